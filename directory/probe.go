package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// Probe checks directory settings before they are put to use, for
// mmp-setup's "test the LDAP settings": it connects to the servers of u in
// fail-over order, binds as bindDN (anonymously when bindDN is empty) and
// reads the entry of u's base DN with a base-scope search. It returns the
// server that answered, as scheme://host:port.
//
// The daemon has no use for it: its first lookup does the same work. A
// lookup cannot stand in for it here, because a missing base DN and a user
// who does not exist both end as account.ErrNoUser there, while an installer
// must tell the two apart.
//
// The error names what failed: the connection (wrapping
// account.ErrUnavailable), the bind, or the base DN, which does not exist or
// is not readable by bindDN.
func (d *Directory) Probe(ctx context.Context, u cfgfmt.LDAPURL, bindDN, bindPass string) (server string, err error) {
	if len(u.Hosts) == 0 || u.BaseDN == "" {
		return "", fmt.Errorf("directory: probe: LDAP URL %q has no host or no base DN", u.String())
	}
	p := &pool{d: d, key: poolKey{url: u.String(), bindDN: bindDN, bindPass: bindPass, kind: searchPool},
		url: u, bindDN: bindDN, bindPass: bindPass, sem: make(chan struct{}, 1)}
	defer p.shutdown()
	err = d.withConn(ctx, p, func(c *conn) error {
		server = hostID(u.Scheme, c.host)
		_, err := c.Search(ldap.NewSearchRequest(u.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, d.timeLimit(), false, "(objectClass=*)", []string{"1.1"}, nil))
		return err
	})
	switch {
	case err == nil:
		return server, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return server, fmt.Errorf("directory: base DN %q does not exist on %s (or %s may not read it)", u.BaseDN, server, identity(bindDN))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return server, fmt.Errorf("directory: %s may not read the base DN %q on %s", identity(bindDN), u.BaseDN, server)
	}
	if server != "" {
		return server, fmt.Errorf("directory: reading %q on %s: %w", u.BaseDN, server, err)
	}
	return "", err
}

// identity names a bind DN in messages.
func identity(bindDN string) string {
	if bindDN == "" {
		return "an anonymous client"
	}
	return fmt.Sprintf("%q", bindDN)
}

// maxProbeEntries bounds the search of MailHosts: a probe reads a sample
// of the directory, not all of it.
const maxProbeEntries = 1000

// MailHosts reads the base entry of values' LdapUrl with BindDN (like
// Probe, on the pool the lookups use) and then the distinct mail hosts
// (MailHostAttrs) of up to maxProbeEntries users under it, for AService
// -check --probe: the stores the MMP will connect to. server is the
// directory server that answered; complete is false when the sample hit
// its limit.
func (d *Directory) MailHosts(ctx context.Context, v *config.Values) (server string, hosts []string, complete bool, err error) {
	p, err := d.pool(v, searchPool)
	if err != nil {
		return "", nil, false, err
	}
	attrs := config.Get(v, param.MailHostAttrs)
	var or strings.Builder
	or.WriteString("(|")
	for _, a := range attrs {
		or.WriteString("(" + ldap.EscapeFilter(a) + "=*)")
	}
	or.WriteString(")")
	var res *ldap.SearchResult
	complete = true
	err = d.withConn(ctx, p, func(c *conn) error {
		server = hostID(p.url.Scheme, c.host)
		if _, err := c.Search(ldap.NewSearchRequest(p.url.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, d.timeLimit(), false, "(objectClass=*)", []string{"1.1"}, nil)); err != nil {
			return err
		}
		var err error
		res, err = c.Search(ldap.NewSearchRequest(p.url.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			maxProbeEntries, d.timeLimit(), false, or.String(), attrs, nil))
		if errors.Is(err, ldap.ErrSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			complete = false
			return nil
		}
		return err
	})
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return server, nil, false, fmt.Errorf("directory: base DN %q does not exist on %s (or %s may not read it)", p.url.BaseDN, server, identity(p.bindDN))
		}
		return server, nil, false, fmt.Errorf("directory: %s: %w", server, err)
	}
	if res == nil {
		return server, nil, complete, nil
	}
	seen := map[string]bool{}
	for _, e := range res.Entries {
		for _, a := range attrs {
			for _, h := range e.GetEqualFoldAttributeValues(a) {
				if h = strings.TrimSpace(h); h != "" && !seen[strings.ToLower(h)] {
					seen[strings.ToLower(h)] = true
					hosts = append(hosts, h)
				}
			}
		}
	}
	slices.Sort(hosts)
	return server, hosts, complete, nil
}
