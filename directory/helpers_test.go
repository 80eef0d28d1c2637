package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// The mailHost values of two-stores.ldif (internal/testenv/twostores), and
// a third store for the users this file adds.
const (
	store1 = "127.0.0.11"
	store2 = "127.0.0.12"
	store3 = "127.0.0.13"
)

// manyUsers is how many userNNN entries manyLDIF adds under ou=Many.
const manyUsers = 200

// extraLDIF adds, to two-stores.ldif, the cases two-stores does not have.
func extraLDIF() string {
	var b strings.Builder
	person := func(dn, uid, host string, more ...string) {
		fmt.Fprintf(&b, "%s\nobjectClass: inetOrgPerson\nobjectClass: inetUser\nobjectClass: inetMailUser\n"+
			"objectClass: inetLocalMailRecipient\n%s\ncn: %s\nsn: %s\n", slapd.LDIFLine("dn", dn), slapd.LDIFLine("uid", uid), uid, uid)
		if host != "" {
			fmt.Fprintf(&b, "mailHost: %s\n", host)
		}
		for _, m := range more {
			b.WriteString(m + "\n")
		}
		b.WriteString("\n")
	}
	person("uid=dave,ou=People,o=internet", "dave", store1, "mailUserStatus: hold", "userPassword: davepw")
	person("uid=erin,ou=People,o=internet", "erin", "", "mailUserStatus: active")
	person("uid=frank,ou=People,o=internet", "frank", store1, "mailUserStatus: active", "inetUserStatus: deleted")
	person("uid=gina,ou=People,o=internet", "gina", store1, "mailLocalAddress: 127.0.0.21",
		"mailLocalAddress: 127.0.0.22", "mailUserStatus: Active", "mailAllowedServiceAccess: +imap:ALL")
	person("uid=henry@example.info,ou=People,o=internet", "henry@example.info", store2)
	person("uid=twin,ou=People,o=internet", "twin", store1)

	b.WriteString("dn: ou=Org,o=internet\nobjectClass: organizationalUnit\nou: Org\n\n")
	person("uid=twin,ou=Org,o=internet", "twin", store3)
	person("uid=judy,ou=Org,o=internet", "judy", store3)

	// Schema 1 DC tree: example.org has its users under ou=Org and its
	// own filter; example.net is an alias of it; two domains with a
	// status that refuses their users.
	b.WriteString(`dn: dc=org,o=internet
objectClass: domain
dc: org

dn: dc=example,dc=org,o=internet
objectClass: domain
objectClass: inetDomain
objectClass: mailDomain
dc: example
inetDomainBaseDN: ou=Org,o=internet
inetDomainSearchFilter: (&(objectClass=inetMailUser)(uid=%U))
inetDomainStatus: active

dn: dc=held,dc=org,o=internet
objectClass: domain
objectClass: inetDomain
objectClass: mailDomain
dc: held
inetDomainBaseDN: ou=Org,o=internet
mailDomainStatus: hold

dn: dc=gone,dc=org,o=internet
objectClass: domain
objectClass: inetDomain
objectClass: mailDomain
dc: gone
inetDomainBaseDN: ou=Org,o=internet
inetDomainStatus: inactive

dn: dc=net,o=internet
objectClass: domain
dc: net

dn: dc=example,dc=net,o=internet
objectClass: alias
objectClass: extensibleObject
dc: example
aliasedObjectName: dc=example,dc=org,o=internet

`)
	return b.String()
}

// manyLDIF adds manyUsers users userNNN under ou=Many, for the pool and
// benchmark tests. (It makes slapd's start a second slower, so the other
// tests do without.)
func manyLDIF() string {
	var b strings.Builder
	b.WriteString("dn: ou=Many,o=internet\nobjectClass: organizationalUnit\nou: Many\n\n")
	for i := range manyUsers {
		fmt.Fprintf(&b, "dn: uid=user%03d,ou=Many,o=internet\nobjectClass: inetOrgPerson\nobjectClass: inetMailUser\n"+
			"objectClass: inetLocalMailRecipient\nuid: user%03d\ncn: user\nsn: user\nmailHost: %s\n\n", i, i, store2)
	}
	return b.String()
}

// twoStores renders testdata/ldif/two-stores.ldif with the store addresses.
func twoStores(t testing.TB) string {
	t.Helper()
	return ldifFile(t, "two-stores.ldif")
}

// ldifFile renders testdata/ldif/name, a text/template, with the store
// addresses Store1, Store2 and Store3.
func ldifFile(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(testenv.RepoRoot(t), "testdata", "ldif", name)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("ldif").Parse(string(text))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, map[string]string{"Store1": store1, "Store2": store2, "Store3": store3}); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b.String()
}

// startLDAP starts a private slapd with two-stores.ldif and extraLDIF.
func startLDAP(t testing.TB, opts ...slapd.Option) *slapd.Server {
	t.Helper()
	return slapd.Start(t, append([]slapd.Option{slapd.WithLDIF(twoStores(t)), slapd.WithLDIF(extraLDIF())}, opts...)...)
}

// loadService writes an ImapProxyAService.cfg with the given "Name value"
// settings (and a vdmap file, if vdmap is not empty) and loads it, returning
// the IMAP service.
func loadService(t testing.TB, settings map[string]string, vdmap string) *config.Service {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("AService.cfg", "default:ServiceList ImapProxyAService@1143\n")
	var b strings.Builder
	for name, v := range settings {
		fmt.Fprintf(&b, "default:%s %s\n", name, config.Quote(v))
	}
	if vdmap != "" {
		write("vdmap.cfg", vdmap)
		b.WriteString("default:VirtualDomainFile vdmap.cfg\n")
	}
	write("ImapProxyAService.cfg", b.String())
	inst, problems := config.Load(dir, config.Options{})
	if err := problems.Err(config.Fatal); err != nil {
		t.Fatalf("config.Load: %v\n%s", err, b.String())
	}
	return inst.Services[0]
}

// values returns the effective IMAP settings for a slapd, bound as the
// proxy account, with HostedDomains no unless settings say otherwise.
func values(t testing.TB, s *slapd.Server, settings ...string) *config.Values {
	t.Helper()
	m := map[string]string{
		"LdapUrl":       s.URL + "/" + s.BaseDN,
		"BindDN":        s.ProxyDN,
		"BindPass":      s.ProxyPass,
		"HostedDomains": "no",
	}
	if len(settings)%2 != 0 {
		t.Fatalf("values: odd number of settings %q", settings)
	}
	for i := 0; i < len(settings); i += 2 {
		m[settings[i]] = settings[i+1]
	}
	return loadService(t, m, "").Values
}

// query builds the Query for a login name as a protocol would.
func query(login string, v *config.Values) account.Query {
	return account.Query{Name: account.ParseName(login, v), Values: v}
}

// newDir returns a Directory that logs into the returned buffer and is
// closed at the end of the test.
func newDir(t testing.TB, opts Options) (*Directory, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d := New(opts)
	t.Cleanup(func() { d.Close() })
	return d, lb
}

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// errKind names the proxy error class of err, for messages and tables.
func errKind(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, account.ErrNoUser):
		return "ErrNoUser"
	case errors.Is(err, account.ErrUnavailable):
		return "ErrUnavailable"
	}
	return "other"
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// slapd logs each operation from the worker thread before answering it, so
// a test that has its answer can count the operation. ACCEPT lines come
// from the listener thread and may be written after the first operations
// of the connection have been answered; they are not counted.
var (
	searchRE = regexp.MustCompile(`(?m)\bSRCH base=`)
	bindRE   = regexp.MustCompile(`(?m)\bconn=(\d+) op=\d+ BIND dn="([^"]*)" method=`)
)

// countSearches counts the searches slapd has received since it started.
func countSearches(s *slapd.Server) int { return len(searchRE.FindAllStringIndex(s.Log(), -1)) }

// bindConns returns the connections on which slapd has received a bind
// with a non-empty DN (the fixture's own probes bind anonymously).
func bindConns(s *slapd.Server) map[string]bool {
	conns := map[string]bool{}
	for _, m := range bindRE.FindAllStringSubmatch(s.Log(), -1) {
		if m[2] != "" {
			conns[m[1]] = true
		}
	}
	return conns
}

// newBindConns counts the connections in bindConns(s) that are not in
// before.
func newBindConns(s *slapd.Server, before map[string]bool) int {
	n := 0
	for c := range bindConns(s) {
		if !before[c] {
			n++
		}
	}
	return n
}
