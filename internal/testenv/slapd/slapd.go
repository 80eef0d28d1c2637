// Package slapd starts a private OpenLDAP slapd on loopback for tests of the
// MMP's directory lookups (the Sun/Netscape Messaging schema: mailHost,
// mailUserStatus, hosted domains).
//
// Each Server lives in its own t.TempDir(): a slapd.conf, an MDB database
// seeded with slapadd before the first start, and a log of the slapd "stats"
// debug level, which tests read to count BIND operations. Passwords are
// stored exactly as given (no password-hash overlay), so tests of CRAM-MD5
// and APOP can read userPassword back in clear text.
//
// The default tree has the suffix entry (o=internet), a proxy account
// cn=mmp,o=internet that may read everything including userPassword, and
// whatever WithLDIF adds. Users may bind with their own passwords; everybody
// may read everything except userPassword.
//
// Typical usage:
//
//	ldap := slapd.Start(t, slapd.WithLDIF(ldif))
//	cfg.LdapUrl = ldap.URL
//	cfg.BindDN, cfg.BindPass = ldap.ProxyDN, ldap.ProxyPass
//	... run the proxy ...
//	if n := ldap.CountBinds("uid=alice,ou=People,o=internet"); n != 1 { ... }
//	ldap.Stop()       // fail-over tests
//	ldap.Restart(t)   // same data, same port
package slapd

import (
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/openmmp/mmp/internal/testenv"
)

// SunMailSchema is the slapd.conf schema for the Sun Messaging attributes and
// object classes the MMP reads; see the comments in the file for the OIDs.
//
//go:embed testdata/sunmail.schema
var SunMailSchema string

// Defaults of the fixture. They are exported so that tests and LDIF
// templates can refer to them instead of repeating the strings.
const (
	DefaultSuffix    = "o=internet"
	DefaultAdminPass = "adminpw"
	DefaultProxyPass = "mmppw"
)

// startTimeout bounds how long Start waits for slapd to answer a search.
// A healthy slapd answers in well under a second.
const startTimeout = 15 * time.Second

// Server is a running (or stopped) private slapd. Its fields are for reading;
// changing them has no effect on the server. A Server is not safe for
// concurrent use by several goroutines.
type Server struct {
	URL  string // ldap://127.0.0.1:port
	Host string // the address slapd listens on, 127.0.0.1 unless WithHost
	Port int

	BaseDN    string // the database suffix, o=internet unless WithSuffix
	AdminDN   string // the rootdn: cn=admin,<BaseDN>; it bypasses the ACLs
	AdminPass string

	// ProxyDN is the MMP's bind account (cn=mmp,<BaseDN>): it may read
	// every attribute, userPassword included, and nothing else.
	ProxyDN   string
	ProxyPass string

	Dir string // the temporary directory holding slapd.conf, db/ and slapd.log

	confPath string
	logPath  string
	bin      map[string]string
	proc     *testenv.Process
}

type config struct {
	host      string
	port      int
	suffix    string
	schemas   []string
	ldif      []string
	dbConfig  []string
	proxyDN   string
	proxyPass string
}

// Option configures Start.
type Option func(*config)

// WithSuffix sets the database suffix (default o=internet). The suffix entry
// is created automatically when its RDN is o=, ou=, dc= or c= and no WithLDIF
// text contains it.
func WithSuffix(dn string) Option { return func(c *config) { c.suffix = dn } }

// WithHost sets the loopback address to listen on (default 127.0.0.1), so
// that fail-over tests can run two directories that differ by address.
func WithHost(host string) Option { return func(c *config) { c.host = host } }

// WithPort sets the port (default: a free one from testenv.FreePort).
func WithPort(port int) Option { return func(c *config) { c.port = port } }

// WithSchema adds a schema in slapd.conf syntax (attributetype and
// objectclass lines), loaded after the standard schemas and SunMailSchema.
func WithSchema(text string) Option {
	return func(c *config) { c.schemas = append(c.schemas, text) }
}

// WithLDIF adds LDIF content records (no changetype lines) that are loaded
// with slapadd before the first start. Texts are loaded in order, after the
// generated suffix entry and before the generated proxy account; an entry
// whose DN is the suffix or the proxy account replaces the generated one.
func WithLDIF(text string) Option { return func(c *config) { c.ldif = append(c.ldif, text) } }

// WithProxyAccount changes the DN and password of the proxy account
// (default cn=mmp,<suffix> and DefaultProxyPass).
func WithProxyAccount(dn, password string) Option {
	return func(c *config) { c.proxyDN, c.proxyPass = dn, password }
}

// WithDatabaseConfig adds slapd.conf lines to the database section before the
// fixture's access rules. Because slapd uses the first matching "access to"
// rule, a test can override the default ACLs this way, or add limits.
func WithDatabaseConfig(lines string) Option {
	return func(c *config) { c.dbConfig = append(c.dbConfig, lines) }
}

// Start creates and starts a private slapd, and registers its shutdown with
// t.Cleanup. It skips the test if slapd or ldap-utils are missing (fails
// under CI, see testenv.Need).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bins := []string{"slapd", "slapadd", "ldapsearch", "ldapadd", "ldapmodify", "ldapwhoami"}
	testenv.Need(t, bins...)
	c := config{host: "127.0.0.1", suffix: DefaultSuffix, proxyPass: DefaultProxyPass}
	for _, o := range opts {
		o(&c)
	}
	if c.port == 0 {
		c.port = testenv.FreePortOn(t, c.host)
	}
	if c.proxyDN == "" {
		c.proxyDN = "cn=mmp," + c.suffix
	}
	s := &Server{
		URL:       "ldap://" + net.JoinHostPort(c.host, strconv.Itoa(c.port)),
		Host:      c.host,
		Port:      c.port,
		BaseDN:    c.suffix,
		AdminDN:   "cn=admin," + c.suffix,
		AdminPass: DefaultAdminPass,
		ProxyDN:   c.proxyDN,
		ProxyPass: c.proxyPass,
		Dir:       t.TempDir(),
		bin:       map[string]string{},
	}
	for _, b := range bins {
		s.bin[b], _ = testenv.LookPath(b)
	}
	s.confPath = filepath.Join(s.Dir, "slapd.conf")
	s.logPath = filepath.Join(s.Dir, "slapd.log")
	if err := s.writeConfig(&c); err != nil {
		t.Fatalf("slapd: %v", err)
	}
	if err := s.seed(&c); err != nil {
		t.Fatalf("slapd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("slapd %s log (tail):\n%s", s.URL, testenv.Tail(s.logPath, 8000))
		}
		s.Stop()
	})
	s.start(t)
	return s
}

// writeConfig writes the schemas and slapd.conf into s.Dir.
func (s *Server) writeConfig(c *config) error {
	schemaDir, err := systemSchemaDir()
	if err != nil {
		return err
	}
	if strings.ContainsAny(c.suffix+c.proxyDN, "\"\n") {
		return fmt.Errorf("suffix %q or proxy DN %q contains a quote or newline", c.suffix, c.proxyDN)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# Generated by internal/testenv/slapd for one test; see slapd.conf(5).\n")
	for _, name := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&b, "include %s\n", filepath.Join(schemaDir, name+".schema"))
	}
	extra := append([]string{SunMailSchema}, c.schemas...)
	for i, text := range extra {
		p := filepath.Join(s.Dir, fmt.Sprintf("schema%d.schema", i))
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&b, "include %s\n", p)
	}
	fmt.Fprintf(&b, "pidfile %s\n", filepath.Join(s.Dir, "slapd.pid"))
	fmt.Fprintf(&b, "argsfile %s\n", filepath.Join(s.Dir, "slapd.args"))
	if dir, ok := mdbModuleDir(); ok {
		fmt.Fprintf(&b, "modulepath %s\nmoduleload back_mdb\n", dir)
	}
	// Searches in tests must never be cut short by the default limit of 500.
	b.WriteString("sizelimit unlimited\n")
	b.WriteString("\ndatabase mdb\n")
	// The map is sparse, so this costs nothing on disk.
	b.WriteString("maxsize 67108864\n")
	fmt.Fprintf(&b, "suffix %q\n", c.suffix)
	fmt.Fprintf(&b, "rootdn %q\n", s.AdminDN)
	fmt.Fprintf(&b, "rootpw %s\n", s.AdminPass)
	fmt.Fprintf(&b, "directory %s\n", filepath.Join(s.Dir, "db"))
	b.WriteString("index objectClass,uid,mail,mailHost eq\n")
	for _, l := range c.dbConfig {
		b.WriteString(strings.TrimRight(l, "\n") + "\n")
	}
	// First match wins. userPassword is readable by the proxy account (the
	// MMP reads it for CRAM-MD5 and APOP), writable by its owner, usable for
	// binding by anybody, and invisible otherwise.
	fmt.Fprintf(&b, `access to attrs=userPassword
	by dn.exact=%q read
	by self write
	by anonymous auth
	by * none
access to *
	by dn.exact=%q read
	by self write
	by * read
`, c.proxyDN, c.proxyDN)
	return os.WriteFile(s.confPath, []byte(b.String()), 0o600)
}

// seed loads the initial entries with slapadd: it needs no running server
// and is much faster than ldapadd over the network.
func (s *Server) seed(c *config) error {
	given := map[string]bool{}
	for _, text := range c.ldif {
		for _, dn := range ldifDNs(text) {
			given[normDN(dn)] = true
		}
	}
	var parts []string
	if !given[normDN(c.suffix)] {
		e, err := suffixEntry(c.suffix)
		if err != nil {
			return err
		}
		parts = append(parts, e)
	}
	for _, text := range c.ldif {
		parts = append(parts, strings.TrimSpace(text))
	}
	if !given[normDN(c.proxyDN)] {
		rdn, _, _ := strings.Cut(c.proxyDN, ",")
		_, cn, _ := strings.Cut(rdn, "=")
		parts = append(parts, ldifLine("dn", c.proxyDN)+
			"\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n"+
			ldifLine("cn", cn)+"\n"+ldifLine("userPassword", c.proxyPass)+
			"\ndescription: MMP proxy account (internal/testenv/slapd)")
	}
	seed := filepath.Join(s.Dir, "seed.ldif")
	if err := os.WriteFile(seed, []byte(strings.Join(parts, "\n\n")+"\n"), 0o600); err != nil {
		return err
	}
	out, err := exec.Command(s.bin["slapadd"], "-f", s.confPath, "-b", c.suffix, "-l", seed).CombinedOutput()
	if err != nil {
		return fmt.Errorf("slapadd -l %s: %v\n%s", seed, err, out)
	}
	return nil
}

// suffixEntry returns an LDIF entry for the suffix, choosing the structural
// class from the attribute type of its RDN.
func suffixEntry(suffix string) (string, error) {
	rdn, _, _ := strings.Cut(suffix, ",")
	typ, val, ok := strings.Cut(rdn, "=")
	if !ok {
		return "", fmt.Errorf("suffix %q: bad RDN", suffix)
	}
	typ = strings.ToLower(strings.TrimSpace(typ))
	class := map[string]string{"o": "organization", "ou": "organizationalUnit", "dc": "domain", "c": "country"}[typ]
	if class == "" {
		return "", fmt.Errorf("suffix %q: cannot guess an object class for %s=; give the entry with WithLDIF", suffix, typ)
	}
	return ldifLine("dn", suffix) + "\nobjectClass: " + class + "\n" + ldifLine(typ, strings.TrimSpace(val)), nil
}

// start launches slapd on the configured address and waits until it answers
// a search.
func (s *Server) start(t testing.TB) {
	t.Helper()
	// -d stats keeps slapd in the foreground and logs every operation to
	// stderr (our log file), which CountBinds reads. -s 0 keeps the same
	// lines out of the machine's syslog.
	p, err := testenv.StartProcess(s.logPath, s.bin["slapd"],
		"-h", s.URL+"/", "-f", s.confPath, "-d", "stats", "-s", "0")
	if err != nil {
		t.Fatalf("slapd: %v", err)
	}
	s.proc = p
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	deadline := time.Now().Add(startTimeout)
	if err := p.WaitListening(addr, startTimeout); err != nil {
		s.Stop()
		t.Fatalf("slapd: %v\n%s:\n%s", err, s.logPath, testenv.Tail(s.logPath, 8000))
	}
	// A connect can succeed before the backends are open; a search cannot.
	for {
		out, err := s.run(nil, "ldapsearch", "-x", "-H", s.URL, "-b", "", "-s", "base", "-o", "nettimeout=2", "namingContexts")
		if err == nil {
			return
		}
		if time.Now().After(deadline) || p.Err() != nil {
			s.Stop()
			t.Fatalf("slapd: not answering searches: %v\n%s\n%s:\n%s", err, out, s.logPath, testenv.Tail(s.logPath, 8000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts slapd down (SIGTERM, then SIGKILL after 5 s). The database and
// log stay in Dir, so Restart brings the same data back. Stop on a stopped
// server does nothing.
func (s *Server) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.Stop(syscall.SIGTERM, 5*time.Second)
	s.proc = nil
}

// Restart stops slapd if it is running and starts it again on the same
// address with the same data, for fail-over and reconnect tests.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Running reports whether the slapd process is alive.
func (s *Server) Running() bool {
	return s.proc != nil && !isClosed(s.proc.Exited())
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// run executes one of the ldap-utils with LDAPNOINIT set, so that
// /etc/ldap/ldap.conf and ~/.ldaprc (a BASE, a TLS setting) cannot change
// what the test does.
func (s *Server) run(stdin *string, tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(s.bin[tool], args...)
	cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
	if stdin != nil {
		cmd.Stdin = strings.NewReader(*stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w", tool, err)
	}
	return out, nil
}

// LoadLDIF adds entries to the running server with ldapadd as the rootdn.
// Any error (an entry that exists, a schema violation) fails the test.
func (s *Server) LoadLDIF(t testing.TB, ldif string) {
	t.Helper()
	if out, err := s.run(&ldif, "ldapadd", "-x", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPass); err != nil {
		t.Fatalf("slapd: LoadLDIF: %v\n%s", err, out)
	}
}

// Modify applies LDIF change records (changetype: modify, delete, modrdn,
// add) with ldapmodify as the rootdn.
func (s *Server) Modify(t testing.TB, ldif string) {
	t.Helper()
	if out, err := s.run(&ldif, "ldapmodify", "-x", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPass); err != nil {
		t.Fatalf("slapd: Modify: %v\n%s", err, out)
	}
}

// SetPassword replaces the userPassword of dn with pw, stored in clear text.
// (ldappasswd would store a salted hash, which CRAM-MD5 tests cannot use.)
func (s *Server) SetPassword(t testing.TB, dn, pw string) {
	t.Helper()
	s.Modify(t, ldifLine("dn", dn)+"\nchangetype: modify\nreplace: userPassword\n"+ldifLine("userPassword", pw)+"\n-\n")
}

// Search runs ldapsearch as the rootdn over the subtree base and returns the
// result as LDIF without comments or line wrapping (ldapsearch -LLL).
// Values that are not printable ASCII come back base64-encoded ("attr:: ").
func (s *Server) Search(t testing.TB, base, filter string, attrs ...string) string {
	t.Helper()
	args := []string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPass, "-b", base, filter}
	out, err := s.run(nil, "ldapsearch", append(args, attrs...)...)
	if err != nil {
		t.Fatalf("slapd: Search(%q, %q): %v\n%s", base, filter, err, out)
	}
	return string(out)
}

// Bind checks the password of dn with a simple bind (ldapwhoami) and
// returns an error with ldapwhoami's message when it is refused.
func (s *Server) Bind(dn, pw string) error {
	out, err := s.run(nil, "ldapwhoami", "-x", "-H", s.URL, "-D", dn, "-w", pw)
	if err != nil {
		return fmt.Errorf("slapd: bind as %q: %v: %s", dn, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Log returns slapd's log: the stats level, one line per connection event
// and operation, across restarts.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// LogPath returns the path of the log file Log reads.
func (s *Server) LogPath() string { return s.logPath }

var bindRE = regexp.MustCompile(`\bBIND dn="([^"]*)" method=`)

// CountBinds returns how many BIND requests for dn slapd has received since
// the first start, successful or not. An empty dn counts anonymous binds.
// DNs compare case-insensitively and ignoring spaces around ',' and '='.
// Because slapd logs the request before it answers, a bind the client has
// seen answered is always counted.
func (s *Server) CountBinds(dn string) int {
	want := normDN(dn)
	n := 0
	for _, m := range bindRE.FindAllStringSubmatch(s.Log(), -1) {
		if normDN(m[1]) == want {
			n++
		}
	}
	return n
}

var dnSpaceRE = regexp.MustCompile(`\s*([,=+])\s*`)

// normDN is a crude DN normalisation, enough for the DNs of our fixtures:
// lower case and no spaces around separators.
func normDN(dn string) string {
	return strings.ToLower(dnSpaceRE.ReplaceAllString(strings.TrimSpace(dn), "$1"))
}

// ldifDNs returns the DNs of the records in an LDIF text, decoding "dn::".
func ldifDNs(text string) []string {
	// Unfold continuation lines first (RFC 2849: a line starting with one
	// space continues the previous one).
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\n ", "")
	var dns []string
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "dn::"); ok {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
				dns = append(dns, string(b))
			}
		} else if v, ok := strings.CutPrefix(line, "dn:"); ok {
			dns = append(dns, strings.TrimSpace(v))
		}
	}
	return dns
}

// ldifLine renders "attr: value", or "attr:: base64" when the value is not
// an RFC 2849 SAFE-STRING (non-ASCII, leading space, colon or '<', trailing
// space).
func ldifLine(attr, value string) string {
	safe := utf8.ValidString(value)
	for i := 0; safe && i < len(value); i++ {
		c := value[i]
		if c == 0 || c == '\n' || c == '\r' || c > 127 {
			safe = false
		}
	}
	if safe && value != "" {
		switch value[0] {
		case ' ', ':', '<':
			safe = false
		}
		if value[len(value)-1] == ' ' {
			safe = false
		}
	}
	if safe {
		return attr + ": " + value
	}
	return attr + ":: " + base64.StdEncoding.EncodeToString([]byte(value))
}

// LDIFLine is the exported form of ldifLine, for tests that build LDIF with
// values that may need base64 (a non-ASCII uid, a password with spaces).
func LDIFLine(attr, value string) string { return ldifLine(attr, value) }

// systemSchemaDir finds the directory holding core.schema.
func systemSchemaDir() (string, error) {
	for _, d := range []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema", "/usr/share/openldap/schema"} {
		if _, err := os.Stat(filepath.Join(d, "core.schema")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("core.schema not found (is slapd installed?)")
}

// mdbModuleDir finds the directory holding back_mdb as a loadable module.
// Debian builds backends as modules; other builds link mdb in, and then no
// moduleload line is needed.
func mdbModuleDir() (string, bool) {
	for _, d := range []string{"/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap"} {
		for _, f := range []string{"back_mdb.la", "back_mdb.so"} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				return d, true
			}
		}
	}
	return "", false
}
