package directory

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
)

// certAttrNames are the names a certmap.conf may use for subject-DN
// attributes, by OID; the first is the one written in DNs built here.
var certAttrNames = map[string][]string{
	"2.5.4.3":                    {"cn", "commonname"},
	"2.5.4.4":                    {"sn", "surname"},
	"2.5.4.5":                    {"serialnumber"},
	"2.5.4.6":                    {"c", "countryname"},
	"2.5.4.7":                    {"l", "localityname"},
	"2.5.4.8":                    {"st", "stateorprovincename"},
	"2.5.4.9":                    {"street", "streetaddress"},
	"2.5.4.10":                   {"o", "organizationname"},
	"2.5.4.11":                   {"ou", "organizationalunitname"},
	"2.5.4.12":                   {"title"},
	"2.5.4.17":                   {"postalcode"},
	"0.9.2342.19200300.100.1.1":  {"uid", "userid"},
	"0.9.2342.19200300.100.1.25": {"dc", "domaincomponent"},
	"1.2.840.113549.1.9.1":       {"e", "email", "emailaddress", "mail"},
}

// subjectComp is one attribute of a certificate subject.
type subjectComp struct {
	names []string // lower case; the OID itself when unknown
	value string
}

// subjectComps lists the subject's attributes in LDAP order (the least
// significant, such as CN, first), each multi-valued RDN flattened.
func subjectComps(cert *x509.Certificate) []subjectComp {
	var out []subjectComp
	for _, atv := range cert.Subject.Names {
		oid := atv.Type.String()
		names := certAttrNames[oid]
		if names == nil {
			names = []string{oid}
		}
		out = append(out, subjectComp{names: names, value: fmt.Sprint(atv.Value)})
	}
	slices.Reverse(out)
	return out
}

func (c subjectComp) is(attr string) bool {
	return slices.Contains(c.names, strings.ToLower(attr))
}

// escapeDNValue escapes an attribute value for a DN string (RFC 4514
// §2.4).
func escapeDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case strings.IndexByte(",+\"\\<>;=", ch) >= 0,
			ch == '#' && i == 0,
			ch == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch < 0x20 || ch == 0x7f:
			fmt.Fprintf(&b, "\\%02x", ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// subjectDN writes the subject as an LDAP DN with the names above.
func subjectDN(comps []subjectComp) string {
	parts := make([]string, 0, len(comps))
	for _, c := range comps {
		parts = append(parts, c.names[0]+"="+escapeDNValue(c.value))
	}
	return strings.Join(parts, ",")
}

// certBase gives the search base and scope for map m (DNComps, docs/reference.md
// §3.7): absent, the subject DN is the entry's DN (base scope); empty,
// the user tree (UserGroupDN, CertMapDN or the LdapUrl base, subtree); a
// list, the subject's components of those attributes, in the subject's
// order, renamed FROMATTR=TOATTR (subtree).
func (d *Directory) certBase(v *config.Values, p *pool, comps []subjectComp, m *cfgfmt.Map) (string, int) {
	if !m.DNComps.Set {
		return subjectDN(comps), ldap.ScopeBaseObject
	}
	if len(m.DNComps.List) == 0 {
		if b := config.Get(v, param.UserGroupDN); b != "" {
			return b, ldap.ScopeWholeSubtree
		}
		if b := config.Get(v, param.CertMapDN); b != "" {
			return b, ldap.ScopeWholeSubtree
		}
		return p.url.BaseDN, ldap.ScopeWholeSubtree
	}
	var parts []string
	for _, c := range comps {
		for _, dc := range m.DNComps.List {
			if c.is(dc.From) {
				parts = append(parts, dc.To+"="+escapeDNValue(c.value))
				break
			}
		}
	}
	return strings.Join(parts, ","), ldap.ScopeWholeSubtree
}

// certFilter builds the filter of FilterComps: "(&(a=v)...)" with the
// subject's values of those attributes, renamed FROMATTR=TOATTR, every
// value escaped (RFC 4515); "(objectClass=*)" without any.
func certFilter(comps []subjectComp, m *cfgfmt.Map) string {
	var terms []string
	for _, fc := range m.FilterComps.List {
		for _, c := range comps {
			if c.is(fc.From) {
				terms = append(terms, "("+fc.To+"="+ldap.EscapeFilter(c.value)+")")
			}
		}
	}
	switch len(terms) {
	case 0:
		return "(objectClass=*)"
	case 1:
		return terms[0]
	}
	return "(&" + strings.Join(terms, "") + ")"
}

// LookupCertificate finds the user a client certificate maps to with
// map m of certmap.conf (docs/reference.md §3.7): the search base from DNComps, the
// filter from FilterComps (or, with CmapLdapAttr, first the entries whose
// attribute holds the subject DN), exactly one entry, whose
// userCertificate;binary must hold the certificate when verifycert is
// on. The User is built as Lookup builds it (mail hosts, status checks,
// attributes). Errors wrap account.ErrNoUser or account.ErrUnavailable.
func (d *Directory) LookupCertificate(ctx context.Context, values *config.Values, cert *x509.Certificate, m *cfgfmt.Map) (*account.User, error) {
	if values == nil {
		return nil, fmt.Errorf("directory: certificate lookup without configuration values: %w", account.ErrUnavailable)
	}
	if cert == nil || m == nil {
		return nil, fmt.Errorf("directory: certificate lookup without a certificate or a map: %w", account.ErrNoUser)
	}
	p, err := d.pool(values, searchPool)
	if err != nil {
		return nil, err
	}
	comps := subjectComps(cert)
	subject := subjectDN(comps)
	base, scope := d.certBase(values, p, comps, m)
	if base == "" && scope == ldap.ScopeBaseObject {
		return nil, fmt.Errorf("directory: certificate with an empty subject: %w", account.ErrNoUser)
	}
	attrs := userAttrs(values)
	fetch := attrs
	if m.VerifyCert {
		fetch = addAttrs(slices.Clone(attrs), "userCertificate;binary")
	}
	var e *ldap.Entry
	if m.CmapLdapAttr != "" {
		e, err = d.certSearch(ctx, p, base, scope, "("+m.CmapLdapAttr+"="+ldap.EscapeFilter(subject)+")", fetch)
		if err != nil && !errors.Is(err, errCertNoEntry) {
			return nil, err
		}
	}
	if e == nil {
		if e, err = d.certSearch(ctx, p, base, scope, certFilter(comps, m), fetch); err != nil {
			return nil, err
		}
	}
	if m.VerifyCert && !slices.ContainsFunc(e.GetEqualFoldRawAttributeValues("userCertificate;binary"),
		func(b []byte) bool { return bytes.Equal(b, cert.Raw) }) {
		logging.Notice(d.log, fmt.Sprintf("client certificate '%s': entry %q does not hold it in userCertificate (verifycert, certmap %s)",
			subject, e.DN, m.Name))
		return nil, fmt.Errorf("directory: %q does not hold the presented certificate: %w", e.DN, account.ErrNoUser)
	}
	q := account.Query{Name: account.Name{Orig: subject}, CertDN: subject, Values: values}
	return d.user(ctx, q, values, e, attrs)
}

// errCertNoEntry: a certificate search found nothing.
var errCertNoEntry = fmt.Errorf("directory: no entry for the certificate: %w", account.ErrNoUser)

// certSearch runs one certificate mapping search, which must find exactly
// one entry.
func (d *Directory) certSearch(ctx context.Context, p *pool, base string, scope int, filter string, attrs []string) (*ldap.Entry, error) {
	if _, err := ldap.CompileFilter(filter); err != nil {
		return nil, fmt.Errorf("directory: certmap filter %q: %w: %w", filter, err, account.ErrNoUser)
	}
	d.debugf(ctx, "directory: certificate search %q under %q on %s", filter, base, p.url)
	var res *ldap.SearchResult
	err := d.withConn(ctx, p, func(c *conn) error {
		var err error
		res, err = c.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases,
			2, d.timeLimit(), false, filter, attrs, nil))
		if errors.Is(err, ldap.ErrSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return errAmbiguous
		}
		return err
	})
	n := 0
	if res != nil {
		n = len(res.Entries)
	}
	switch {
	case errors.Is(err, errAmbiguous):
		n = 2
	case errors.Is(err, account.ErrUnavailable):
		return nil, err
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject), ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidDNSyntax):
		return nil, fmt.Errorf("directory: certificate search base %q does not exist: %w", base, errCertNoEntry)
	case err != nil:
		return nil, fmt.Errorf("directory: search %q under %q: %w: %w", filter, base, err, account.ErrUnavailable)
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("directory: no entry matches %q under %q: %w", filter, base, errCertNoEntry)
	case n > 1:
		logging.Notice(d.log, fmt.Sprintf("client certificate: more than one entry matches %q under %q", filter, base))
		return nil, fmt.Errorf("directory: more than one entry matches %q under %q: %w", filter, base, account.ErrNoUser)
	}
	return res.Entries[0], nil
}
