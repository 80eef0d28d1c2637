package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// maxAliasHops bounds how many aliasedObjectName links a domain lookup
// follows, so that two aliases naming each other cannot loop.
const maxAliasHops = 4

// maxDomainMatches is the size limit of the Schema 2 domain search: one
// more than the one organization that may match, to see that there are
// several.
const maxDomainMatches = 2

// searchPlan is where and how to search for a user.
type searchPlan struct {
	base       string
	format     cfgfmt.Format
	formatName string      // the parameter or attribute the format came from, for messages
	dom        *domainInfo // nil unless the name's hosted domain was found
}

// domainInfo is what a lookup needs from a hosted domain's node. It is
// cached, and never changed once built.
type domainInfo struct {
	name        string // canonical name, see account.Domain.Name
	dn          string
	base        string // the user subtree
	filter      string // inetDomainSearchFilter, "" if absent
	inetStatus  string
	mailStatus  string
	uidSep      string // domainUidSeparator (Schema 1 only), "" if absent
	preAuth     string
	replay      string // mailAccessProxyReplay in ReplayFormat syntax, "" if absent or bad
	replayAttrs []string
	allowed     []string
}

// attach gives u the domain's settings (account.Domain). A nil domain
// attaches nothing.
func (dom *domainInfo) attach(u *account.User) {
	if dom == nil {
		return
	}
	u.Domain = &account.Domain{
		Name:                 dom.name,
		DN:                   dom.dn,
		PreAuth:              parseYesNo(dom.preAuth),
		Replay:               dom.replay,
		AllowedServiceAccess: slices.Clone(dom.allowed),
	}
}

// parseYesNo reads mailAccessProxyPreAuth: nil when absent or not a
// boolean, so that the PreAuth parameter applies.
func parseYesNo(s string) *bool {
	if s == "" {
		return nil
	}
	b, err := cfgfmt.ParseBool(s)
	if err != nil {
		return nil
	}
	return &b
}

// domainAttrs are read from a domain node.
var domainAttrs = []string{
	"objectClass", "aliasedObjectName", "inetDomainBaseDN", "inetDomainSearchFilter",
	"inetDomainStatus", "mailDomainStatus", "domainUidSeparator", "sunPreferredDomain",
	"mailAccessProxyPreAuth", "mailAccessProxyReplay", "mailDomainAllowedServiceAccess",
}

// plan decides the search base and filter template for q (docs/reference.md §4.5); see
// the package documentation.
func (d *Directory) plan(ctx context.Context, p *pool, q account.Query) (searchPlan, error) {
	v := q.Values
	single := searchPlan{base: p.url.BaseDN, format: config.Get(v, param.SearchFormat), formatName: "SearchFormat"}
	if !config.Get(v, param.HostedDomains) {
		return single, nil
	}
	schema2 := config.Get(v, param.LdapSchemaLevel) == 2
	if q.Name.Domain == "" {
		// No domain and no DefaultDomain: the name is searched for as
		// with HostedDomains no, under the tree that holds the users.
		if schema2 {
			single.base = d.schema2Base(v, p)
		}
		return single, nil
	}
	var dom *domainInfo
	var err error
	if schema2 {
		dom, err = d.domain2(ctx, p, v, q.Name.Domain)
	} else {
		dom, err = d.domain1(ctx, p, v, q.Name.Domain)
	}
	if err != nil {
		return searchPlan{}, err
	}
	if dom == nil {
		// The Sun 7.x line, error code and all, for the tools that read it.
		d.sessionLog(ctx).Error(fmt.Sprintf("domain '%s' not found in LDAP (-1 )", q.Name.Domain))
		return searchPlan{}, fmt.Errorf("directory: domain %q not found: %w", q.Name.Domain, account.ErrNoUser)
	}
	who := fmt.Sprintf("domain '%s'", q.Name.Domain)
	if err := d.checkStatus(ctx, who, "inetDomainStatus", dom.inetStatus); err != nil {
		return searchPlan{}, err
	}
	if err := d.checkStatus(ctx, who, "mailDomainStatus", dom.mailStatus); err != nil {
		return searchPlan{}, err
	}
	plan := searchPlan{base: dom.base, format: config.Get(v, param.DomainSearchFormat), formatName: "DomainSearchFormat", dom: dom}
	if dom.filter != "" {
		f, err := cfgfmt.ParseFormat(dom.filter, cfgfmt.SearchEscapes)
		if err != nil {
			d.warnOnce("filter\x00"+dom.dn, fmt.Sprintf("directory: ignoring inetDomainSearchFilter of %q: %v", dom.dn, err))
		} else {
			plan.format, plan.formatName = f, "inetDomainSearchFilter of "+dom.dn
		}
	}
	return plan, nil
}

// schema2Base is the base of Schema 2 searches: UserGroupDN, or its old
// name CertMapDN, or else (with a warning) the LdapUrl base.
func (d *Directory) schema2Base(v *config.Values, p *pool) string {
	if b := config.Get(v, param.UserGroupDN); b != "" {
		return b
	}
	if b := config.Get(v, param.CertMapDN); b != "" {
		return b
	}
	d.warnOnce("ugdn\x00"+p.url.BaseDN, fmt.Sprintf("directory: LdapSchemaLevel 2 without UserGroupDN; searching domains and users under the LdapUrl base %q", p.url.BaseDN))
	return p.url.BaseDN
}

// domainLabels splits a domain name into lower-case labels, nil when it
// is not a domain name (an empty label).
func domainLabels(domain string) []string {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(domain, ".")), ".")
	if slices.Contains(labels, "") {
		return nil
	}
	return labels
}

// dcDN returns the Schema 1 DC-tree DN of a domain under base:
// dc=a,dc=b,dc=c,base for a.b.c.
func dcDN(labels []string, base string) string {
	var b strings.Builder
	for _, label := range labels {
		b.WriteString("dc=")
		b.WriteString(ldap.EscapeDN(label))
		b.WriteByte(',')
	}
	return b.String() + base
}

// domain1 finds a hosted domain in the Schema 1 DC tree under the LdapUrl
// base. The node of the name itself is read first; when there is none,
// the left-most label is stripped and the parent tried (uplevel), as long
// as two labels remain: a top-level domain's node (dc=com) is a container
// of the tree, never a hosted domain. It returns nil without error when
// no node is found.
func (d *Directory) domain1(ctx context.Context, p *pool, v *config.Values, name string) (*domainInfo, error) {
	labels := domainLabels(name)
	if labels == nil {
		return nil, nil
	}
	cache := p.cache(lookupCacheKind, config.Get(v, param.LdapCacheSize))
	ttl := config.Get(v, param.LdapCacheTTL)
	key := "d1\x00" + p.url.BaseDN + "\x00" + strings.Join(labels, ".")
	if cache != nil && ttl > 0 {
		if c, ok := cache.get(key, d.now(), ttl); ok {
			return c.(*domainInfo), nil
		}
	}
	for i := range labels {
		if i > 0 && len(labels)-i < 2 {
			break
		}
		dom, err := d.readDomainNode(ctx, p, name, dcDN(labels[i:], p.url.BaseDN))
		if err != nil {
			return nil, err
		}
		if dom == nil {
			continue
		}
		if i > 0 {
			d.debugf(ctx, "directory: domain %q found as %q (uplevel)", name, dom.name)
		}
		if cache != nil && ttl > 0 {
			cache.add(key, dom, d.now())
		}
		return dom, nil
	}
	return nil, nil
}

// readDomainNode reads one DC-tree node, following aliasedObjectName. It
// returns nil without error when the node does not exist or is not a
// hosted domain (a plain container of the tree such as dc=com, which has
// neither inetDomain nor mailDomain nor inetDomainBaseDN).
func (d *Directory) readDomainNode(ctx context.Context, p *pool, name, dn string) (*domainInfo, error) {
	for hop := 0; ; hop++ {
		e, err := d.readEntry(ctx, p, dn, domainAttrs)
		switch {
		case err == nil:
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
			if hop > 0 {
				d.warnOnce("alias\x00"+dn, fmt.Sprintf("directory: domain %q: the alias target %q does not exist", name, dn))
			}
			return nil, nil
		case errors.Is(err, account.ErrUnavailable):
			return nil, err
		default:
			return nil, fmt.Errorf("directory: read domain %q: %w: %w", dn, err, account.ErrUnavailable)
		}
		if e == nil {
			return nil, nil
		}
		if alias := e.GetEqualFoldAttributeValue("aliasedObjectName"); alias != "" {
			if hop >= maxAliasHops {
				d.log.Error(fmt.Sprintf("directory: domain %q: more than %d aliases, giving up at %q", name, maxAliasHops, dn))
				return nil, fmt.Errorf("directory: domain %q: alias loop at %q: %w", name, dn, account.ErrNoUser)
			}
			dn = alias
			continue
		}
		if !isDomainNode(e) {
			d.debugf(ctx, "directory: %q is not a hosted domain node", e.DN)
			return nil, nil
		}
		dom := d.newDomainInfo(e, true)
		if dom.name == "" {
			dom.name = dcName(e.DN, p.url.BaseDN)
		}
		if dom.name == "" {
			dom.name = strings.ToLower(name)
		}
		return dom, nil
	}
}

// isDomainNode tells a hosted domain's node from the containers of the DC
// tree.
func isDomainNode(e *ldap.Entry) bool {
	for _, oc := range e.GetEqualFoldAttributeValues("objectClass") {
		if strings.EqualFold(oc, "inetDomain") || strings.EqualFold(oc, "mailDomain") {
			return true
		}
	}
	return e.GetEqualFoldAttributeValue("inetDomainBaseDN") != ""
}

// dcName returns the domain name a DC-tree DN stands for under base
// (siroe.com for dc=siroe,dc=com,o=internet), or "" when dn is not such a
// DN.
func dcName(dn, base string) string {
	pd, err := ldap.ParseDN(dn)
	if err != nil {
		return ""
	}
	pb, err := ldap.ParseDN(base)
	if err != nil || !pb.AncestorOfFold(pd) {
		return ""
	}
	var labels []string
	for _, rdn := range pd.RDNs[:len(pd.RDNs)-len(pb.RDNs)] {
		if len(rdn.Attributes) != 1 || !strings.EqualFold(rdn.Attributes[0].Type, "dc") {
			return ""
		}
		labels = append(labels, strings.ToLower(rdn.Attributes[0].Value))
	}
	return strings.Join(labels, ".")
}

// newDomainInfo builds the domainInfo of a domain node or organization e.
// domainUidSeparator is honoured only for Schema 1 (schema1), as the
// Schema Reference defines it.
func (d *Directory) newDomainInfo(e *ldap.Entry, schema1 bool) *domainInfo {
	dom := &domainInfo{
		name:       strings.ToLower(e.GetEqualFoldAttributeValue("sunPreferredDomain")),
		dn:         e.DN,
		base:       e.GetEqualFoldAttributeValue("inetDomainBaseDN"),
		filter:     e.GetEqualFoldAttributeValue("inetDomainSearchFilter"),
		inetStatus: e.GetEqualFoldAttributeValue("inetDomainStatus"),
		mailStatus: e.GetEqualFoldAttributeValue("mailDomainStatus"),
		preAuth:    strings.TrimSpace(e.GetEqualFoldAttributeValue("mailAccessProxyPreAuth")),
		allowed:    slices.Clip(e.GetEqualFoldAttributeValues("mailDomainAllowedServiceAccess")),
	}
	if schema1 {
		dom.uidSep = e.GetEqualFoldAttributeValue("domainUidSeparator")
	}
	if dom.base == "" || !schema1 {
		// Schema 2: the organization is the user subtree (docs/reference.md §4.5).
		dom.base = e.DN
	}
	if r := e.GetEqualFoldAttributeValue("mailAccessProxyReplay"); r != "" {
		text := sunReplay(r)
		f, err := cfgfmt.ParseFormat(text, cfgfmt.ReplayEscapes)
		if err != nil {
			d.warnOnce("replay\x00"+e.DN, fmt.Sprintf("directory: ignoring mailAccessProxyReplay %q of %q: %v", r, e.DN, err))
		} else {
			dom.replay, dom.replayAttrs = text, f.Attrs()
		}
	}
	return dom
}

// sunReplay rewrites the Schema Reference's %[attr] (a user attribute in
// mailAccessProxyReplay) as ReplayFormat's %A[attr]. %% stays.
func sunReplay(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] != '%' || i+1 >= len(s) {
			continue
		}
		switch s[i+1] {
		case '%':
			b.WriteByte('%')
			i++
		case '[':
			b.WriteByte('A')
		}
	}
	return b.String()
}

// domain2 finds a hosted domain in Sun LDAP Schema 2: the organization
// below UserGroupDN whose sunPreferredDomain or associatedDomain is the
// name. It returns nil without error when none is. Several organizations
// claiming one domain is a directory error that no guess can fix: the
// login is refused as temporarily unavailable and the error logged.
func (d *Directory) domain2(ctx context.Context, p *pool, v *config.Values, name string) (*domainInfo, error) {
	labels := domainLabels(name)
	if labels == nil {
		return nil, nil
	}
	canon := strings.Join(labels, ".")
	base := d.schema2Base(v, p)
	cache := p.cache(lookupCacheKind, config.Get(v, param.LdapCacheSize))
	ttl := config.Get(v, param.LdapCacheTTL)
	key := "d2\x00" + base + "\x00" + canon
	if cache != nil && ttl > 0 {
		if c, ok := cache.get(key, d.now(), ttl); ok {
			return c.(*domainInfo), nil
		}
	}
	esc := ldap.EscapeFilter(canon)
	filter := "(&(objectClass=sunManagedOrganization)(|(sunPreferredDomain=" + esc + ")(associatedDomain=" + esc + ")))"
	d.debugf(ctx, "directory: search %q under %q on %s", filter, base, p.url)
	var res *ldap.SearchResult
	err := d.withConn(ctx, p, func(c *conn) error {
		var err error
		res, err = c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			maxDomainMatches, d.timeLimit(), false, filter, domainAttrs, nil))
		if errors.Is(err, ldap.ErrSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return errAmbiguous
		}
		return err
	})
	var dns []string
	if res != nil {
		for _, e := range res.Entries {
			dns = append(dns, e.DN)
		}
	}
	switch {
	case errors.Is(err, errAmbiguous) || err == nil && len(dns) > 1:
		d.log.Error(fmt.Sprintf("domain '%s': more than one organization under %q has it as sunPreferredDomain or associatedDomain (%s); refusing its users",
			name, base, strings.Join(dns, "; ")))
		return nil, fmt.Errorf("directory: domain %q: several organizations under %q: %w", name, base, account.ErrUnavailable)
	case errors.Is(err, account.ErrUnavailable):
		return nil, err
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		d.log.Error(fmt.Sprintf("directory: UserGroupDN %q does not exist on %s", base, p.url))
		return nil, fmt.Errorf("directory: domain search base %q does not exist: %w", base, account.ErrUnavailable)
	case err != nil:
		return nil, fmt.Errorf("directory: search %q under %q: %w: %w", filter, base, err, account.ErrUnavailable)
	case len(dns) == 0:
		return nil, nil
	}
	dom := d.newDomainInfo(res.Entries[0], false)
	if dom.name == "" {
		dom.name = canon
	}
	if cache != nil && ttl > 0 {
		cache.add(key, dom, d.now())
	}
	return dom, nil
}

// readEntry reads one entry by DN (a base-scope search), nil if the server
// returns none (an ACL hiding it).
func (d *Directory) readEntry(ctx context.Context, p *pool, dn string, attrs []string) (*ldap.Entry, error) {
	d.debugf(ctx, "directory: read %q on %s", dn, p.url)
	var res *ldap.SearchResult
	err := d.withConn(ctx, p, func(c *conn) error {
		var err error
		res, err = c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, d.timeLimit(), false, "(objectClass=*)", attrs, nil))
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return res.Entries[0], nil
}
