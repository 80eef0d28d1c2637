package directory

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
)

var _ account.Directory = (*Directory)(nil)

// Defaults of Options. docs/reference.md §4.7 leaves LDAP timeouts to the
// implementation and suggests 30 s.
const (
	DefaultOpTimeout   = 30 * time.Second
	DefaultDialTimeout = 10 * time.Second
	DefaultMaxConns    = 4
)

// poolIdleLimit: a pool nobody has used for this long belongs to a
// configuration that a refresh replaced (a new BindPass, a vdmap domain
// that was removed); it is closed when the next pool is created.
const poolIdleLimit = time.Hour

// Options configure a Directory. The zero value is usable.
type Options struct {
	// Logger receives connection problems (Warning), refused accounts
	// (Notice) and, at Debug, the filters searched. Nil discards.
	Logger *slog.Logger

	// Now is the clock of the lookup cache, for tests of LdapCacheTTL.
	// Connection timing always uses the real clock. Nil means time.Now.
	Now func() time.Time

	// OpTimeout bounds every LDAP operation (bind, search) in addition to
	// the caller's context. Zero means DefaultOpTimeout.
	OpTimeout time.Duration

	// DialTimeout bounds a TCP connect plus TLS handshake. Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration

	// MaxConns bounds the connections of each pool. Zero means
	// DefaultMaxConns. LDAP servers answer a handful of connections at
	// least as fast as hundreds, and an MMP farm multiplies the number.
	MaxConns int

	// RootCAs verifies the certificates of ldaps:// servers (and of
	// ldap:// servers with StartTLS). Nil means the system roots.
	RootCAs *x509.CertPool

	// StartTLS makes every ldap:// connection start TLS (RFC 4513 §3)
	// before it binds, with the same certificate checks as ldaps://. A
	// server that refuses counts as down: the MMP never falls back to
	// clear text. ldaps:// URLs are not affected. (A Go extension: Sun's
	// MMP had ldaps:// only.)
	StartTLS bool

	// Observe, if set, is told of each user lookup, for the metrics
	// (which this package does not import): whether the lookup cache
	// answered (cached) and, when LDAP was searched, how long that took.
	Observe func(cached bool, search time.Duration)
}

// Directory looks users up in LDAP and checks their passwords. It is safe
// for concurrent use; one Directory serves every service and virtual
// domain of a process, across configuration refreshes.
type Directory struct {
	// lastURL is the LdapUrl last turned into a pool key, and its text:
	// every lookup names its pool by the URL's text, which costs four
	// allocations to write out (docs/benchmarks.md, "CPU per login").
	lastURL atomic.Pointer[urlText]

	log         *slog.Logger
	now         func() time.Time
	opTimeout   time.Duration
	dialTimeout time.Duration
	maxConns    int
	rootCAs     *x509.CertPool
	startTLS    bool
	observe     func(cached bool, search time.Duration)

	// authKey keys the HMAC that stands for a password in the
	// pre-authentication cache. It is random per process and never leaves
	// it, so a memory dump does not give a table to test guesses against
	// offline either.
	authKey [32]byte

	mu     sync.Mutex
	pools  map[poolKey]*pool
	closed bool

	hostMu sync.Mutex
	hosts  map[string]*hostState // by hostID; absent means up
	broken map[string]time.Time  // by hostID: latest failure of a connection to it

	authMu sync.Mutex // orders the pre-authentication cache's check-and-replace

	warnMu sync.Mutex
	warned map[string]bool
	asDown map[string]bool // AuthenticationServer addresses last seen failing
}

// New returns a Directory. It opens no connection: pools are created by
// the first lookup that needs them, so a directory that is down when the
// MMP starts does not stop it from starting.
func New(opts Options) *Directory {
	d := &Directory{
		log:         opts.Logger,
		now:         opts.Now,
		opTimeout:   opts.OpTimeout,
		dialTimeout: opts.DialTimeout,
		maxConns:    opts.MaxConns,
		rootCAs:     opts.RootCAs,
		startTLS:    opts.StartTLS,
		observe:     opts.Observe,
		pools:       map[poolKey]*pool{},
		hosts:       map[string]*hostState{},
		broken:      map[string]time.Time{},
		warned:      map[string]bool{},
		asDown:      map[string]bool{},
	}
	rand.Read(d.authKey[:]) // never fails (Go 1.24+)
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.opTimeout <= 0 {
		d.opTimeout = DefaultOpTimeout
	}
	if d.dialTimeout <= 0 {
		d.dialTimeout = DefaultDialTimeout
	}
	if d.maxConns <= 0 {
		d.maxConns = DefaultMaxConns
	}
	return d
}

// Close closes every idle connection; connections in use are closed when
// their operation ends. Lookups after Close fail with ErrUnavailable.
func (d *Directory) Close() error {
	d.mu.Lock()
	d.closed = true
	pools := d.pools
	d.pools = map[poolKey]*pool{}
	d.mu.Unlock()
	for _, p := range pools {
		p.shutdown()
	}
	return nil
}

// pool returns the pool for the directory and identity of v, creating it
// on first use.
func (d *Directory) pool(v *config.Values, kind poolKind) (*pool, error) {
	u := config.Get(v, param.LdapUrl)
	key := poolKey{url: d.urlString(u), kind: kind}
	if kind == searchPool {
		key.bindDN = config.Get(v, param.BindDN)
		key.bindPass = config.Get(v, param.BindPass)
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, fmt.Errorf("directory: closed: %w", account.ErrUnavailable)
	}
	p := d.pools[key]
	if p == nil {
		for k, old := range d.pools {
			if old.idleFor(now) > poolIdleLimit {
				old.shutdown()
				delete(d.pools, k)
			}
		}
		p = &pool{d: d, key: key, url: u, bindDN: key.bindDN, bindPass: key.bindPass,
			sem: make(chan struct{}, d.maxConns)}
		d.pools[key] = p
	}
	// Touching the pool under d.mu keeps it from being reaped between
	// here and its use.
	p.mu.Lock()
	p.lastUsed = now
	p.mu.Unlock()
	p.interval.Store(int64(config.Get(v, param.LdapRefreshInterval)))
	return p, nil
}

// Account status values (docs/reference.md §4.5). Anything else, "active" included,
// lets the login proceed.
var (
	statusRefused = []string{"inactive", "disabled", "deleted", "removed"}
	statusHeld    = []string{"hold", "defer", "defer-submit"}
)

// checkStatus applies a mailUserStatus, inetUserStatus, mailDomainStatus
// or inetDomainStatus value; what names the account for the log line,
// which goes to the session's log (sessionLog) in the Sun 7.x form
// "user 'u' mailUserStatus: 'disabled'".
func (d *Directory) checkStatus(ctx context.Context, what, attr, status string) error {
	s := strings.ToLower(strings.TrimSpace(status))
	switch {
	case slices.Contains(statusRefused, s):
		logging.Notice(d.sessionLog(ctx), fmt.Sprintf("%s %s: '%s'", what, attr, status))
		return fmt.Errorf("directory: %s %s is %q: %w", what, attr, status, account.ErrNoUser)
	case slices.Contains(statusHeld, s):
		logging.Notice(d.sessionLog(ctx), fmt.Sprintf("%s %s: '%s'", what, attr, status))
		return fmt.Errorf("directory: %s %s is %q: %w", what, attr, status, account.ErrUnavailable)
	}
	return nil
}

// userAttrs lists the attributes a lookup fetches (docs/reference.md §4.5), without
// repeats: the mail host attributes first, in MailHostAttrs order.
// userPassword is not among them even with CRAMs: ClearPassword reads it
// when a challenge-response login needs it, so that no password sits in
// the lookup cache or in a User that may end up in a log line.
func userAttrs(v *config.Values) []string {
	// Room for every name and a hosted domain's few: one allocation.
	out := make([]string, 0, 16)
	out = addAttrs(out, config.Get(v, param.MailHostAttrs)...)
	out = addAttrs(out, "mailUserStatus", "inetUserStatus", "uid", config.Get(v, param.TCPAccessAttr))
	out = addAttrs(out, config.Get(v, param.ReplayFormat).Attrs()...)
	return addAttrs(out, config.Get(v, param.AuthenticationLdapAttributes)...)
}

// urlText is an LdapUrl with its String.
type urlText struct {
	u cfgfmt.LDAPURL
	s string
}

// urlString is u.String(), remembered for the last URL asked.
func (d *Directory) urlString(u cfgfmt.LDAPURL) string {
	if l := d.lastURL.Load(); l != nil && l.u.Scheme == u.Scheme && l.u.BaseDN == u.BaseDN && slices.Equal(l.u.Hosts, u.Hosts) {
		return l.s
	}
	l := &urlText{u: cfgfmt.LDAPURL{Scheme: u.Scheme, Hosts: slices.Clone(u.Hosts), BaseDN: u.BaseDN}, s: u.String()}
	d.lastURL.Store(l)
	return l.s
}

// addAttrs appends the names not in list yet (compared ignoring case).
func addAttrs(list []string, names ...string) []string {
	for _, n := range names {
		if n != "" && !slices.ContainsFunc(list, func(o string) bool { return strings.EqualFold(o, n) }) {
			list = append(list, n)
		}
	}
	return list
}

// filterValues returns the Expand callback of a search format for q: the
// escapes of docs/reference.md §3.8, each value escaped for a filter (RFC 4515), which
// is what keeps a login name from adding terms to the filter.
func filterValues(q account.Query) func(esc byte, arg string) string {
	return func(esc byte, _ string) string {
		var s string
		switch esc {
		case 'o':
			s = q.Name.Orig
		case 's':
			s = q.Name.Canon
		case 'U':
			s = q.Name.User
		case 'V':
			s = q.Name.Domain
		case 'C':
			if q.Client.IsValid() {
				s = q.Client.Unmap().String()
			}
		case 'S':
			if q.Server.IsValid() {
				s = q.Server.Unmap().String()
			}
		case 'D':
			s = q.CertDN
		}
		return ldap.EscapeFilter(s)
	}
}

// cachedUser is a lookup result as the cache keeps it.
type cachedUser struct {
	user *account.User
}

// Lookup finds the user of q (docs/reference.md §4.5): the hosted domain first with
// HostedDomains, then exactly one user entry, whose status must allow a
// login and which must name a mail host. User.Attrs holds the attributes
// fetched (keys in lower case) and, for a hosted domain, the domain's settings
// in User.Domain. The error wraps account.ErrNoUser (no such
// domain or entry, several entries, refused status, no mail host) or
// account.ErrUnavailable (directory unreachable or too slow, account or
// domain on hold, configuration the server rejects, a domain claimed by
// several organizations).
func (d *Directory) Lookup(ctx context.Context, q account.Query) (*account.User, error) {
	v := q.Values
	if v == nil {
		return nil, fmt.Errorf("directory: lookup without configuration values: %w", account.ErrUnavailable)
	}
	if q.Name.User == "" {
		return nil, fmt.Errorf("directory: empty login name: %w", account.ErrNoUser)
	}
	p, err := d.pool(v, searchPool)
	if err != nil {
		return nil, err
	}
	plan, err := d.plan(ctx, p, q)
	if err != nil {
		return nil, err
	}
	fq := q
	if dom := plan.dom; dom != nil && dom.uidSep != "" {
		// Compound uids (Schema Reference, domainUidSeparator): the
		// domain's entries are named uid<sep>domain, so that is what %U
		// stands for in the filter.
		fq.Name.User = q.Name.User + dom.uidSep + dom.name
	}
	filter := cfgfmt.FilterText(plan.format.Expand(filterValues(fq)))
	attrs := userAttrs(v)
	if plan.dom != nil {
		attrs = addAttrs(attrs, plan.dom.replayAttrs...)
	}

	cache := p.cache(lookupCacheKind, config.Get(v, param.LdapCacheSize))
	ttl := config.Get(v, param.LdapCacheTTL)
	key := "u\x00" + plan.base + "\x00" + filter + "\x00" + strings.Join(attrs, ",")
	if cache != nil && ttl > 0 {
		if c, ok := cache.get(key, d.now(), ttl); ok {
			d.observeLookup(true, 0)
			u := cloneUser(c.(cachedUser).user)
			plan.dom.attach(u)
			return u, nil
		}
	}

	// go-ldap would refuse a bad filter too, but only as an error that
	// cannot be told from our own bugs; this names the parameter.
	if _, err := ldap.CompileFilter(filter); err != nil {
		d.log.Error(fmt.Sprintf("directory: %s %q does not make a valid LDAP filter: %v", plan.formatName, plan.format.String(), err))
		return nil, fmt.Errorf("directory: %s %q: %w: %w", plan.formatName, plan.format.String(), err, account.ErrUnavailable)
	}
	d.debugf(ctx, "directory: search %q under %q on %s", filter, plan.base, p.url)
	var res *ldap.SearchResult
	began := time.Now()
	err = d.withConn(ctx, p, func(c *conn) error {
		var err error
		res, err = c.Search(ldap.NewSearchRequest(plan.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			2, d.timeLimit(), false, filter, attrs, nil))
		if errors.Is(err, ldap.ErrSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			// Two entries came back and a third was refused: the
			// answer we need, as an error.
			return errAmbiguous
		}
		return err
	})
	d.observeLookup(false, time.Since(began))
	n := 0
	if res != nil {
		n = len(res.Entries)
	}
	switch {
	case errors.Is(err, errAmbiguous):
		n = 2
	case errors.Is(err, account.ErrUnavailable):
		return nil, err
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		d.log.Error(fmt.Sprintf("directory: search base %q does not exist on %s", plan.base, p.url))
		return nil, fmt.Errorf("directory: search base %q does not exist: %w", plan.base, account.ErrNoUser)
	case err != nil:
		return nil, fmt.Errorf("directory: search %q under %q: %w: %w", filter, plan.base, err, account.ErrUnavailable)
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("directory: no entry matches %q under %q: %w", filter, plan.base, account.ErrNoUser)
	case n > 1:
		logging.Notice(d.log, fmt.Sprintf("user '%s': more than one entry matches %q under %q", q.Name.Orig, filter, plan.base))
		return nil, fmt.Errorf("directory: more than one entry matches %q under %q: %w", filter, plan.base, account.ErrNoUser)
	}

	u, err := d.user(ctx, q, v, res.Entries[0], attrs)
	if err != nil {
		return nil, err
	}
	if cache != nil && ttl > 0 {
		cache.add(key, cachedUser{u}, d.now())
	}
	u = cloneUser(u)
	plan.dom.attach(u)
	return u, nil
}

// observeLookup calls Options.Observe, if set.
func (d *Directory) observeLookup(cached bool, search time.Duration) {
	if d.observe != nil {
		d.observe(cached, search)
	}
}

// errAmbiguous stands for a search that hit its size limit of 2. It is an
// LDAP result, not a network error, so the connection stays in the pool.
var errAmbiguous = ldap.NewError(ldap.LDAPResultSizeLimitExceeded, errors.New("more than one entry"))

// timeLimit is the server-side time limit of searches, so that a server
// stops working on a search the MMP has given up on.
func (d *Directory) timeLimit() int {
	return max(1, int((d.opTimeout+time.Second-1)/time.Second))
}

// user builds the User of entry e and applies the status and mail host
// checks.
func (d *Directory) user(ctx context.Context, q account.Query, v *config.Values, e *ldap.Entry, attrs []string) (*account.User, error) {
	u := &account.User{DN: e.DN, Attrs: map[string][]string{}}
	for _, a := range attrs {
		if vals := e.GetEqualFoldAttributeValues(a); len(vals) > 0 {
			u.Attrs[strings.ToLower(a)] = slices.Clip(vals)
		}
	}
	who := fmt.Sprintf("user '%s'", q.Name.Orig)
	for _, a := range []string{"mailUserStatus", "inetUserStatus"} {
		if err := d.checkStatus(ctx, who, a, u.Attr(a)); err != nil {
			return nil, err
		}
	}
	hostAttrs := config.Get(v, param.MailHostAttrs)
	for _, a := range hostAttrs {
		for _, h := range u.Attrs[strings.ToLower(a)] {
			h = strings.TrimSpace(h)
			if h != "" && !slices.ContainsFunc(u.MailHosts, func(o string) bool { return strings.EqualFold(o, h) }) {
				u.MailHosts = append(u.MailHosts, h)
			}
		}
	}
	if len(u.MailHosts) == 0 {
		d.sessionLog(ctx).Warn(fmt.Sprintf("%s: entry %q has no mail host (MailHostAttrs %s)", who, e.DN, strings.Join(hostAttrs, " ")))
		return nil, fmt.Errorf("directory: %q has none of the attributes %s: %w", e.DN, strings.Join(hostAttrs, " "), account.ErrNoUser)
	}
	u.MailHosts = slices.Clip(u.MailHosts)
	return u, nil
}

// cloneUser copies a cached User so that callers may change theirs.
//
// Every value slice is cut from one array (capacity cut to length, so
// that an append by the caller copies instead of overwriting the next):
// three allocations per cache hit instead of one per attribute.
func cloneUser(u *account.User) *account.User {
	c := *u
	n := len(u.MailHosts)
	for _, v := range u.Attrs {
		n += len(v)
	}
	all := make([]string, 0, n)
	cut := func(v []string) []string {
		if v == nil {
			return nil
		}
		i := len(all)
		all = append(all, v...)
		return all[i:len(all):len(all)]
	}
	c.MailHosts = cut(u.MailHosts)
	if u.Attrs != nil {
		c.Attrs = make(map[string][]string, len(u.Attrs))
		for k, v := range u.Attrs {
			c.Attrs[k] = cut(v)
		}
	}
	return &c
}

// bindDN checks a password with a simple bind as dn, without the
// pre-authentication cache (CheckPassword is what sessions call). It uses a pool
// of its own, never one bound as BindDN, since a bind changes the identity
// of the connection it is made on. An empty password is refused without
// asking: LDAP takes it for an unauthenticated bind, which many servers let
// succeed (RFC 4513 §5.1.2). Wrong credentials give account.ErrNoUser;
// anything else that prevented a verdict gives account.ErrUnavailable.
func (d *Directory) bindDN(ctx context.Context, values *config.Values, dn, password string) error {
	if values == nil {
		return fmt.Errorf("directory: bind without configuration values: %w", account.ErrUnavailable)
	}
	if dn == "" || password == "" {
		return fmt.Errorf("directory: empty DN or password: %w", account.ErrNoUser)
	}
	p, err := d.pool(values, bindPool)
	if err != nil {
		return err
	}
	return d.bind(ctx, p, dn, password)
}

// bind is Bind on the bind pool p.
func (d *Directory) bind(ctx context.Context, p *pool, dn, password string) error {
	err := d.withConn(ctx, p, func(c *conn) error { return c.Bind(dn, password) })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, account.ErrUnavailable):
		return err
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
		ldap.LDAPResultNoSuchObject, ldap.LDAPResultInvalidDNSyntax):
		d.debugf(ctx, "directory: bind as %q refused: %v", dn, err)
		return fmt.Errorf("directory: bind as %q: %w: %w", dn, err, account.ErrNoUser)
	}
	return fmt.Errorf("directory: bind as %q: %w: %w", dn, err, account.ErrUnavailable)
}

// sessionLog is where an event of one login goes: the session's own log
// (logging.NewContext: the service's log file, with "(id N)"), as the Sun
// MMP wrote domain and account status lines; the directory's log when the
// call is not made for a session.
func (d *Directory) sessionLog(ctx context.Context) *slog.Logger {
	return logging.FromContext(ctx, d.log)
}

// debugf logs at Debug, formatting only when Debug is enabled: lookups
// are on every login's path.
func (d *Directory) debugf(ctx context.Context, format string, args ...any) {
	if d.log.Enabled(ctx, slog.LevelDebug) {
		d.log.DebugContext(ctx, fmt.Sprintf(format, args...))
	}
}

// warnOnce logs a configuration warning the first time it happens, not on
// every login.
func (d *Directory) warnOnce(key, msg string) {
	d.warnMu.Lock()
	seen := d.warned[key]
	d.warned[key] = true
	d.warnMu.Unlock()
	if !seen {
		d.log.Warn(msg)
	}
}
