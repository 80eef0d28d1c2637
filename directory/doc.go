// Package directory finds Messaging Multiplexor users in LDAP: it turns a
// login name into the user's entry and store host (mailHost) the way the
// Sun Java System MMP did (spec §2.2, §3.8, §4.5), and checks passwords
// with an LDAP bind for PreAuth. It is the only package that imports
// github.com/go-ldap/ldap/v3; the rest of the MMP sees the small
// proxy.Router interface that *Directory satisfies.
//
// Typical usage:
//
//	dir := directory.New(directory.Options{Logger: log})
//	defer dir.Close()
//	u, err := dir.Lookup(ctx, proxy.Query{Name: proxy.ParseName(login, vals), Values: vals})
//	switch {
//	case errors.Is(err, proxy.ErrNoUser):      // same reply as a wrong password
//	case errors.Is(err, proxy.ErrUnavailable): // try again later
//	}
//	connect(u.MailHosts[0])
//
// # Connections
//
// A Directory keeps one pool of long-lived, bound connections per distinct
// (LdapUrl, BindDN, BindPass), created on first use, so that a vdmap domain
// with its own directory gets its own pool while all the others share one.
// A pool holds at most Options.MaxConns connections; a login waits (within
// its context) for a free one instead of opening another. The hosts of
// LdapUrl are tried in order; a host that cannot be reached is skipped for
// 30 s. When every host is down, one login per second per host probes it,
// so that a restarted directory is noticed at once without every login
// paying for a connect. A connection older than LdapRefreshInterval is
// replaced when it comes back to the pool, which also moves traffic back to
// the first host after a fail-over. An operation that fails with a network
// error discards its connection (and the idle ones to the same host, which
// have usually died with it) and is retried once on a fresh connection;
// after a timeout the retry prefers another host. Every operation is
// bounded by Options.OpTimeout and the caller's context, so a hung
// directory costs a login ErrUnavailable, never a hang.
//
// # Lookup
//
// The filter is SearchFormat (or, for hosted domains, DomainSearchFormat
// or the domain's inetDomainSearchFilter) with every substituted value
// escaped with ldap.EscapeFilter (RFC 4515), so a login name such as
// "*)(uid=*" is searched for literally and finds nobody. A filter written
// without outer parentheses, as S6 wrote uid=%s, is wrapped. The search is
// a subtree search with a size limit of 2: exactly one entry must match.
//
// HostedDomains yes implements Sun LDAP Schema 1 only: for a name with a
// domain a.b.c, the node dc=a,dc=b,dc=c,<LdapUrl base> is read (following
// aliasedObjectName up to four times); its inetDomainStatus and
// mailDomainStatus are honoured, users are searched below its
// inetDomainBaseDN (the node itself when absent) with its
// inetDomainSearchFilter or else DomainSearchFormat. When the name has no
// domain, when the node does not exist, or with LdapSchemaLevel 2 (not yet
// implemented), the MMP falls back to one subtree search under the LdapUrl
// base with SearchFormat, exactly as with HostedDomains no. Uplevel
// matching of sub-domains, domainUidSeparator and the domain's PreAuth and
// replay overrides are not implemented yet.
//
// # Cache
//
// Successful lookups are kept in a per-pool LRU of LdapCacheSize entries
// for LdapCacheTTL (either 0 turns caching off), keyed by the search base,
// the expanded filter and the attribute list. Failures are never cached: a
// newly created account must work at once, an account that was just
// reactivated must not wait for the TTL, and names that do not exist —
// what a password guesser sends — must not push real users out of the
// cache. Hosted-domain nodes that were found are cached the same way.
package directory
