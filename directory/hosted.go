package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
)

// maxAliasHops bounds how many aliasedObjectName links a domain lookup
// follows, so that two aliases naming each other cannot loop.
const maxAliasHops = 4

// searchPlan is where and how to search for a user.
type searchPlan struct {
	base       string
	format     cfgfmt.Format
	formatName string // the parameter or attribute the format came from, for messages
}

// domainInfo is what a lookup needs from a Schema 1 domain node.
type domainInfo struct {
	dn         string
	base       string // inetDomainBaseDN, or dn itself
	filter     string // inetDomainSearchFilter, "" if absent
	inetStatus string
	mailStatus string
}

// domainAttrs are read from a domain node.
var domainAttrs = []string{"inetDomainBaseDN", "inetDomainSearchFilter", "inetDomainStatus", "mailDomainStatus", "aliasedObjectName"}

// plan decides the search base and filter template for q (spec §4.5). See
// the package documentation for what of HostedDomains is implemented.
func (d *Directory) plan(ctx context.Context, p *pool, q proxy.Query) (searchPlan, error) {
	v := q.Values
	fallback := searchPlan{base: p.url.BaseDN, format: config.Get(v, param.SearchFormat), formatName: "SearchFormat"}
	if !config.Get(v, param.HostedDomains) || q.Name.Domain == "" {
		return fallback, nil
	}
	if config.Get(v, param.LdapSchemaLevel) != 1 {
		d.warnOnce("schema2", "directory: LdapSchemaLevel 2 is not implemented yet; searching under the LdapUrl base with SearchFormat")
		return fallback, nil
	}
	dom, err := d.domain(ctx, p, v, q.Name.Domain)
	if err != nil {
		return searchPlan{}, err
	}
	if dom == nil {
		logging.Notice(d.log, fmt.Sprintf("domain '%s' not found in LDAP; searching under %q with SearchFormat", q.Name.Domain, p.url.BaseDN))
		return fallback, nil
	}
	who := fmt.Sprintf("domain '%s'", q.Name.Domain)
	if err := d.checkStatus(who, "inetDomainStatus", dom.inetStatus); err != nil {
		return searchPlan{}, err
	}
	if err := d.checkStatus(who, "mailDomainStatus", dom.mailStatus); err != nil {
		return searchPlan{}, err
	}
	plan := searchPlan{base: dom.base, format: config.Get(v, param.DomainSearchFormat), formatName: "DomainSearchFormat"}
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

// domainDN returns the Schema 1 DC-tree DN of a domain under base:
// dc=a,dc=b,dc=c,base for a.b.c, or "" when the name is not a domain.
func domainDN(domain, base string) string {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	var b strings.Builder
	for _, label := range strings.Split(domain, ".") {
		if label == "" {
			return ""
		}
		b.WriteString("dc=")
		b.WriteString(ldap.EscapeDN(label))
		b.WriteByte(',')
	}
	return b.String() + base
}

// domain reads the node of a hosted domain, following aliases. It returns
// nil without error when there is no such node.
func (d *Directory) domain(ctx context.Context, p *pool, v *config.Values, name string) (*domainInfo, error) {
	dn := domainDN(name, p.url.BaseDN)
	if dn == "" {
		return nil, nil
	}
	cache := p.lookupCache(config.Get(v, param.LdapCacheSize))
	ttl := config.Get(v, param.LdapCacheTTL)
	key := "d\x00" + dn
	if cache != nil && ttl > 0 {
		if c, ok := cache.get(key, d.now(), ttl); ok {
			return c.(*domainInfo), nil
		}
	}
	for hop := 0; ; hop++ {
		e, err := d.readEntry(ctx, p, dn, domainAttrs)
		if err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				return nil, nil
			}
			if errors.Is(err, proxy.ErrUnavailable) {
				return nil, err
			}
			return nil, fmt.Errorf("directory: read domain %q: %w: %w", dn, err, proxy.ErrUnavailable)
		}
		if e == nil {
			return nil, nil
		}
		if alias := e.GetEqualFoldAttributeValue("aliasedObjectName"); alias != "" {
			if hop >= maxAliasHops {
				d.log.Error(fmt.Sprintf("directory: domain %q: more than %d aliases, giving up at %q", name, maxAliasHops, dn))
				return nil, fmt.Errorf("directory: domain %q: alias loop at %q: %w", name, dn, proxy.ErrNoUser)
			}
			dn = alias
			continue
		}
		dom := &domainInfo{
			dn:         e.DN,
			base:       e.GetEqualFoldAttributeValue("inetDomainBaseDN"),
			filter:     e.GetEqualFoldAttributeValue("inetDomainSearchFilter"),
			inetStatus: e.GetEqualFoldAttributeValue("inetDomainStatus"),
			mailStatus: e.GetEqualFoldAttributeValue("mailDomainStatus"),
		}
		if dom.base == "" {
			dom.base = e.DN
		}
		if cache != nil && ttl > 0 {
			cache.add(key, dom, d.now())
		}
		return dom, nil
	}
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
