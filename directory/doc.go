// Package directory finds Messaging Multiplexor users in LDAP: it turns a
// login name into the user's entry and store host (mailHost) the way the
// Sun Java System MMP did (docs/reference.md §2.2, §2.3, §3.8, §4.5), checks passwords
// for PreAuth with a bind as the user or a third-party
// AuthenticationServer, and reads clear-text passwords for CRAM-MD5 and
// APOP (CRAMs). It is the only package that imports
// github.com/go-ldap/ldap/v3; the rest of the MMP sees the one
// account.Directory interface that *Directory satisfies.
//
// Typical usage:
//
//	dir := directory.New(directory.Options{Logger: log})
//	defer dir.Close()
//	q := account.Query{Name: account.ParseName(login, vals), Client: c, Server: s, Values: vals}
//	u, err := dir.Lookup(ctx, q)
//	switch {
//	case errors.Is(err, account.ErrNoUser):      // same reply as a wrong password
//	case errors.Is(err, account.ErrUnavailable): // try again later
//	}
//	if preAuth { // PreAuth, or the domain's u.Domain.PreAuth
//		if err := dir.CheckPassword(ctx, q, u, password); err != nil { ... }
//	}
//	connect(u.MailHosts[0])
//
// # Connections
//
// A Directory keeps one pool of long-lived, bound connections per distinct
// (LdapUrl, BindDN, BindPass), created on first use, so that a vdmap domain
// with its own directory gets its own pool while all the others share one;
// binds as users (PreAuth) have pools of their own per LdapUrl, never
// mixed with the BindDN's. A pool holds at most Options.MaxConns
// connections; a login waits (within its context) for a free one instead
// of opening another.
//
// Both fail-over forms of LdapUrl are accepted (ldap://h1 h2/base and
// "ldap://h1/base ldap://h2/base", parsed by cfgfmt). The hosts are tried
// in order; a host that cannot be reached is skipped for 30 s. When every
// host is down, one login per second per host probes it, so that a
// restarted directory is noticed at once without every login paying for a
// connect. A connection older than LdapRefreshInterval is replaced when it
// comes back to the pool or is taken from it, which also moves traffic
// back to the first host after a fail-over. When an operation fails with
// a network error, every connection to that host made before the failure
// is retired (a stopped or restarted server has closed them all), and the
// operation is retried on a fresh connection, up to three attempts; after
// a timeout the retry prefers another host, and a second timeout ends the
// attempts. Every operation is bounded by Options.OpTimeout and the
// caller's context, every connect by Options.DialTimeout, so a hung
// directory costs a login ErrUnavailable, never a hang; recovery needs no
// restart. ldaps:// connects with TLS and verifies the server's
// certificate (Options.RootCAs); Options.StartTLS does the same for
// ldap:// with StartTLS, and never falls back to clear text (a Go
// extension without a configuration parameter yet).
//
// # Lookup
//
// The filter is SearchFormat (or, for hosted domains, DomainSearchFormat
// or the domain's inetDomainSearchFilter) with every substituted value
// escaped with ldap.EscapeFilter (RFC 4515), so a login name such as
// "*)(uid=*" is searched for literally and finds nobody. A filter written
// without outer parentheses, as S6 wrote uid=%s, is wrapped. The search is
// a subtree search with a size limit of 2: exactly one entry must match.
// The user's status (mailUserStatus, inetUserStatus) and mail host
// (MailHostAttrs) are checked. userPassword is never fetched by a lookup.
//
// HostedDomains no: one search under the LdapUrl base with SearchFormat.
//
// HostedDomains yes, LdapSchemaLevel 1 (Sun Schema 1, the DC tree under
// the LdapUrl base): for a name with the domain a.b.c, the node
// dc=a,dc=b,dc=c,<base> is read, following aliasedObjectName (at most four
// links). A node counts as a hosted domain when it has the object class
// inetDomain or mailDomain, or an inetDomainBaseDN; a plain container of
// the tree does not. When there is no such node, the left-most label is
// stripped and the parent tried (uplevel: mail.siroe.com is served by
// siroe.com's node), as long as at least two labels remain, so that no
// top-level domain's node is ever taken for a hosted domain. (Sun's MTA
// made uplevel an option, domain_uplevel in option.dat, which the MMP
// ignores, docs/reference.md §7.33; here it is always on.) Users are searched
// below the node's inetDomainBaseDN (the node itself when absent) with its
// inetDomainSearchFilter, else DomainSearchFormat. A domainUidSeparator
// on the node means compound uids (Schema Reference): the domain's entries
// are named uid<sep>domain, so %U in the filter stands for
// user<sep>domain, the domain being the node's canonical name
// (account.Domain.Name): alice@sesta.com with "#" is searched as
// uid=alice#sesta.com.
//
// HostedDomains yes, LdapSchemaLevel 2 (Sun Schema 2): the organization
// (objectClass sunManagedOrganization) below UserGroupDN (or CertMapDN,
// or, with a warning, the LdapUrl base) whose sunPreferredDomain or
// associatedDomain is the domain is searched for; users are searched below
// it, with its inetDomainSearchFilter or DomainSearchFormat. Schema 2 has
// no uplevel and no domainUidSeparator (the Schema Reference defines it for
// Schema 1 only). Several organizations claiming one domain is a directory
// error: it is logged and the login fails as temporarily unavailable.
//
// In both schemas the domain's inetDomainStatus and mailDomainStatus are
// applied like the user's status, and mailAccessProxyPreAuth,
// mailAccessProxyReplay and mailDomainAllowedServiceAccess are handed to
// the login pipeline in User.Domain, for it to
// apply. A domain that is not found is logged as "domain '<d>' not found
// in LDAP" and fails the login (ErrNoUser); the name is not searched for
// anywhere else. A name without a domain (and no DefaultDomain to give it
// one) is searched for with SearchFormat under the LdapUrl base (Schema 1)
// or UserGroupDN (Schema 2), as with HostedDomains no: exactly one entry
// must match there, so a uid that several domains use is refused rather
// than guessed.
//
// # Pre-authentication and passwords
//
// CheckPassword binds as the user's DN with the password, or asks the
// AuthenticationServer with the line protocol documented in authserver.go.
// Successful binds are cached for AuthCacheTTL in a cache of AuthCacheSize
// entries, one entry per DN holding an HMAC of the password under a
// per-process random key: a cached entry never reveals a password, a
// password changed in the directory is refused once its entry is
// AuthCacheTTL old, and the old password is never accepted from the cache
// once the new one has been used. Failures and AuthenticationServer
// answers are never cached; the login pipeline (package proxy) writes the
// S6 log line of a success. ClearPassword reads a clear-text userPassword (no scheme,
// {CLEARTEXT} or {PLAIN}) for CRAM-MD5 and APOP when CRAMs is on, and
// refuses hashed ones with a log line that names the scheme.
//
// # Cache
//
// Successful lookups are kept in an LRU of LdapCacheSize entries for
// LdapCacheTTL (either 0 turns caching off), keyed by the search base,
// the expanded filter and the attribute list. Each pool has one cache per
// size in use, so vdmap domains that share a directory but not
// LdapCacheSize do not trim each other's entries; the pre-authentication
// cache is kept the same way per AuthCacheSize. Failures are never cached:
// a newly created account must work at once, an account that was just
// reactivated must not wait for the TTL, and names that do not exist —
// what a password guesser sends — must not push real users out of the
// cache. Hosted-domain nodes that were found are cached the same way, under
// the name the client used (so an uplevel or alias match is one lookup).
package directory
