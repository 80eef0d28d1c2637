// Package dovecot starts a private Dovecot IMAP and POP3 server on loopback:
// the message store behind the MMP in integration tests.
//
// Everything lives in the test's t.TempDir(): dovecot.conf, the runtime and
// state directories, the log, a passwd-file with clear-text ({PLAIN})
// passwords, and one maildir per user. Nothing under /etc or /var is read or
// written, and the system's Dovecot service is left alone.
//
// Two stores that the MMP can tell apart by mailHost only are two Servers on
// the same port of different loopback addresses:
//
//	port := testenv.FreePortOn(t, "127.0.0.11", "127.0.0.12")
//	pop := testenv.FreePortOn(t, "127.0.0.11", "127.0.0.12")
//	s1 := dovecot.Start(t, dovecot.WithHost("127.0.0.11"), dovecot.WithPorts(port, pop),
//		dovecot.WithUser("alice", "alicepw"),
//		dovecot.WithMessage("alice", "Subject: hi\r\n\r\nbody\r\n"))
//	s2 := dovecot.Start(t, dovecot.WithHost("127.0.0.12"), dovecot.WithPorts(port, pop), ...)
//
// (Package twostores does exactly that, together with the directory.)
//
// # Privileges
//
// Dovecot refuses to run login processes or to access mail as root. When the
// test runs as root (CI containers), the fixture uses root for Dovecot's
// internal processes (auth, config), which must read the files in the 0700
// temporary directory; "dovenull" (or "nobody") for the login processes,
// which are chrooted to the runtime directory; and "nobody" for mail access,
// chowning the maildirs to it and adding search (x) permission to the
// test's temporary directory so that it can reach them. When the test runs
// as an ordinary user, every process runs as that user.
//
// # Differences from a stock Dovecot
//
// Made for tests that log in often, fail on purpose and come from 127.0.0.1:
// no delay after a failed login (auth_failure_delay = 0, no anvil auth
// penalty), any UTF-8 user name (auth_username_chars empty), 1000 sessions
// per user and address, clear-text authentication without TLS, and a
// greeting that names the address ("Dovecot testenv 127.0.0.11 ready.").
//
// # Versions
//
// The configuration is written for the installed version: Dovecot 2.3 (Debian
// 12 ships 2.3.19) is what the tests run against; the 2.4 template follows the
// 2.4 documentation (settings were renamed) and has not been run yet.
package dovecot

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// startTimeout bounds how long Start waits for the greetings. Dovecot 2.3
// starts in about 100 ms.
const startTimeout = 15 * time.Second

// Server is a running (or stopped) private Dovecot. Its fields are for
// reading. A Server is not safe for concurrent use by several goroutines.
type Server struct {
	Host      string // the loopback address it listens on, e.g. 127.0.0.11
	IMAPPort  int
	POP3Port  int
	IMAPSPort int // 0 unless WithTLS
	POP3SPort int // 0 unless WithTLS
	Dir       string
	Version   string // dovecot --version, e.g. "2.3.19.1 (9b53102964)"

	confPath string
	logPath  string
	mailUID  int // -1: leave files owned by the current user
	mailGID  int
	proc     *testenv.Process
	haproxy  bool // the listeners want a PROXY header (WithHAProxy)
}

type account struct{ name, password string }

type message struct{ user, rfc822 string }

type config struct {
	host                 string
	imapPort, pop3Port   int
	imapsPort, pop3sPort int
	users                []account
	masters              []account
	messages             []message
	certFile, keyFile    string
	extra                []string
	haproxy              bool
}

// Option configures Start.
type Option func(*config)

// WithHost sets the loopback address to listen on (default 127.0.0.1).
func WithHost(host string) Option { return func(c *config) { c.host = host } }

// WithPorts sets the IMAP and POP3 ports; 0 (the default) picks a free one.
func WithPorts(imap, pop3 int) Option {
	return func(c *config) { c.imapPort, c.pop3Port = imap, pop3 }
}

// WithUser adds a mail account with a clear-text password. The name and
// password must not contain ':' or a newline (the passwd-file separators);
// a name must not contain '/'. UTF-8 names are fine.
func WithUser(name, password string) Option {
	return func(c *config) { c.users = append(c.users, account{name, password}) }
}

// WithMessage puts an RFC 822 message into the INBOX of user (who must be
// added with WithUser) before the server starts. Messages are numbered in the
// order given.
func WithMessage(user, rfc822 string) Option {
	return func(c *config) { c.messages = append(c.messages, message{user, rfc822}) }
}

// WithMasterUser adds a master user who may log in as any user: with SASL
// PLAIN, authzid = the user and authcid = the master (how the MMP's
// StoreAdmin proxy authentication works); and with LOGIN as "user*master".
func WithMasterUser(name, password string) Option {
	return func(c *config) { c.masters = append(c.masters, account{name, password}) }
}

// WithTLS turns on TLS with the given PEM certificate and key: STARTTLS and
// STLS on the plain ports, plus IMAPS and POP3S on free ports (IMAPSPort,
// POP3SPort). Clear-text login stays allowed without TLS.
func WithTLS(certFile, keyFile string) Option {
	return func(c *config) { c.certFile, c.keyFile = certFile, keyFile }
}

// WithTLSPorts sets the IMAPS and POP3S ports used with WithTLS; 0 (the
// default) picks a free one.
func WithTLSPorts(imaps, pop3s int) Option {
	return func(c *config) { c.imapsPort, c.pop3sPort = imaps, pop3s }
}

// WithHAProxy makes the IMAP and POP3 listeners expect the HAProxy PROXY
// protocol header (haproxy = yes) from 127.0.0.0/8, so that a proxy in
// front can hand over its client's address (Dovecot logs rip=<client>).
func WithHAProxy() Option { return func(c *config) { c.haproxy = true } }

// WithConfig appends raw dovecot.conf text (for the installed version's
// syntax), e.g. "login_trusted_networks = 127.0.0.0/8".
func WithConfig(text string) Option { return func(c *config) { c.extra = append(c.extra, text) } }

// Start writes the configuration and data into a new t.TempDir(), starts
// "dovecot -F" and waits until both the IMAP and the POP3 greeting arrive.
// t.Cleanup stops the server. It skips the test when Dovecot or its IMAP or
// POP3 server is not installed (fails under CI, see testenv.Need).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	testenv.Need(t, "dovecot", "doveadm", "imap", "imap-login", "pop3", "pop3-login")
	c := config{host: "127.0.0.1"}
	for _, o := range opts {
		o(&c)
	}
	if c.imapPort == 0 {
		c.imapPort = testenv.FreePortOn(t, c.host)
	}
	if c.pop3Port == 0 {
		c.pop3Port = testenv.FreePortOn(t, c.host)
	}
	tls := c.certFile != ""
	if tls && c.imapsPort == 0 {
		c.imapsPort = testenv.FreePortOn(t, c.host)
	}
	if tls && c.pop3sPort == 0 {
		c.pop3sPort = testenv.FreePortOn(t, c.host)
	}
	version, err := installedVersion()
	if err != nil {
		t.Fatalf("dovecot: %v", err)
	}
	s := &Server{
		Host:     c.host,
		IMAPPort: c.imapPort,
		POP3Port: c.pop3Port,
		Dir:      t.TempDir(),
		Version:  version,
		mailUID:  -1,
		mailGID:  -1,
		haproxy:  c.haproxy,
	}
	if tls {
		s.IMAPSPort, s.POP3SPort = c.imapsPort, c.pop3sPort
	}
	s.confPath = filepath.Join(s.Dir, "dovecot.conf")
	s.logPath = filepath.Join(s.Dir, "dovecot.log")
	if err := s.setup(&c); err != nil {
		t.Fatalf("dovecot: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovecot %s log (tail):\n%s", s.Host, testenv.Tail(s.logPath, 8000))
		}
		s.Stop()
	})
	s.start(t)
	return s
}

// IMAPAddr returns host:port of the IMAP listener.
func (s *Server) IMAPAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.IMAPPort)) }

// POP3Addr returns host:port of the POP3 listener.
func (s *Server) POP3Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.POP3Port)) }

// IMAPSAddr returns host:port of the IMAPS listener ("" without WithTLS).
func (s *Server) IMAPSAddr() string {
	if s.IMAPSPort == 0 {
		return ""
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(s.IMAPSPort))
}

// POP3SAddr returns host:port of the POP3S listener ("" without WithTLS).
func (s *Server) POP3SAddr() string {
	if s.POP3SPort == 0 {
		return ""
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(s.POP3SPort))
}

// Log returns Dovecot's log (logins, authentication failures, errors).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// LogPath returns the path of the log file.
func (s *Server) LogPath() string { return s.logPath }

// MailDir returns the maildir holding user's INBOX.
func (s *Server) MailDir(user string) string {
	return filepath.Join(s.Dir, "mail", user, "Maildir")
}

var (
	versionOnce sync.Once
	versionStr  string
	versionErr  error
)

func installedVersion() (string, error) {
	versionOnce.Do(func() {
		bin, err := testenv.LookPath("dovecot")
		if err != nil {
			versionErr = err
			return
		}
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			versionErr = fmt.Errorf("dovecot --version: %w", err)
			return
		}
		versionStr = strings.TrimSpace(string(out))
	})
	return versionStr, versionErr
}

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// is24 reports whether version is 2.4 or later (the 2.4 settings syntax).
func is24(version string) bool {
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return false
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major > 2 || major == 2 && minor >= 4
}

// identities are the system users the Dovecot processes run as.
type identities struct {
	internal string // auth, config, stats…
	group    string // default_internal_group; "" keeps Dovecot's default
	login    string // imap-login, pop3-login
	mailUID  int
	mailGID  int
	chroot   bool // whether login processes may chroot (root only)
}

func chooseIdentities() (identities, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return identities{}, err
		}
		// Dovecot chowns its sockets to default_internal_group, which only
		// works for a group we are in.
		g, err := user.LookupGroupId(strconv.Itoa(os.Getegid()))
		if err != nil {
			return identities{}, err
		}
		return identities{internal: u.Username, group: g.Name, login: u.Username,
			mailUID: os.Geteuid(), mailGID: os.Getegid()}, nil
	}
	// dovenull exists wherever the Dovecot package is installed; it is the
	// user Dovecot itself intends for login processes.
	id := identities{internal: "root", login: "nobody", chroot: true}
	if _, err := user.Lookup("dovenull"); err == nil {
		id.login = "dovenull"
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		return id, fmt.Errorf("running as root needs the unprivileged user nobody for mail access: %w", err)
	}
	id.mailUID, _ = strconv.Atoi(nobody.Uid)
	id.mailGID, _ = strconv.Atoi(nobody.Gid)
	return id, nil
}

// setup writes the passwd-files, the maildirs and dovecot.conf.
func (s *Server) setup(c *config) error {
	id, err := chooseIdentities()
	if err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		s.mailUID, s.mailGID = id.mailUID, id.mailGID
		if err := makeTraversable(s.Dir); err != nil {
			return err
		}
	}
	// ':' and newlines are the passwd-file separators; '/' in a user name
	// would escape the mail directory.
	check := func(what, v string, forbidden string) error {
		if v == "" || strings.ContainsAny(v, forbidden) {
			return fmt.Errorf("%s %q: empty or contains one of %q", what, v, forbidden)
		}
		return nil
	}
	var users, masters strings.Builder
	known := map[string]bool{}
	for _, u := range c.users {
		if err := errors.Join(check("user name", u.name, ":\r\n/"), check("password", u.password, ":\r\n")); err != nil {
			return err
		}
		known[u.name] = true
		home := filepath.Join(s.Dir, "mail", u.name)
		fmt.Fprintf(&users, "%s:{PLAIN}%s::::%s::\n", u.name, u.password, home)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(s.MailDir(u.name), sub), 0o700); err != nil {
				return err
			}
		}
	}
	for _, m := range c.masters {
		if err := errors.Join(check("master user name", m.name, ":\r\n"), check("password", m.password, ":\r\n")); err != nil {
			return err
		}
		fmt.Fprintf(&masters, "%s:{PLAIN}%s\n", m.name, m.password)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "users"), []byte(users.String()), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "masters"), []byte(masters.String()), 0o600); err != nil {
		return err
	}
	for _, m := range c.messages {
		if !known[m.user] {
			return fmt.Errorf("WithMessage(%q): no such user (add WithUser first)", m.user)
		}
		if err := s.deliver(m.user, m.rfc822); err != nil {
			return err
		}
	}
	if err := s.chownMail(); err != nil {
		return err
	}
	var conf string
	if is24(s.Version) {
		conf = s.config24(c, id)
	} else {
		conf = s.config23(c, id)
	}
	return os.WriteFile(s.confPath, []byte(conf), 0o600)
}

// makeTraversable adds search permission for others to the directories
// between the temporary-directory root and dir. go test creates the
// per-test directory 0700; the mail processes, which run as "nobody", must
// pass through it. Only directories under os.TempDir() are touched.
func makeTraversable(dir string) error {
	root := filepath.Clean(os.TempDir()) // where t.TempDir creates its directories
	for d := filepath.Clean(dir); d != root && strings.HasPrefix(d, root+string(filepath.Separator)); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	// Check the whole path, including what lies above the temporary root.
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by others, so Dovecot's unprivileged mail processes cannot reach %s; set TMPDIR to a directory under a searchable path", d, dir)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// chownMail gives the mail tree to the mail user when running as root.
func (s *Server) chownMail() error {
	if s.mailUID < 0 {
		return nil
	}
	return filepath.Walk(filepath.Join(s.Dir, "mail"), func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		return os.Lchown(p, s.mailUID, s.mailGID)
	})
}

var (
	deliverMu   sync.Mutex
	deliverLast time.Time
	deliverSeq  int64
)

// deliveryName returns a maildir file name whose time part grows strictly,
// so that Dovecot, which sorts new mail by that time, numbers messages in
// the order they were delivered.
func deliveryName() string {
	deliverMu.Lock()
	defer deliverMu.Unlock()
	now := time.Now().Truncate(time.Microsecond)
	if !now.After(deliverLast) {
		now = deliverLast.Add(time.Microsecond)
	}
	deliverLast = now
	deliverSeq++
	return fmt.Sprintf("%d.M%dP%dQ%d.testenv", now.Unix(), now.Nanosecond()/1000, os.Getpid(), deliverSeq)
}

// deliver writes one message into user's maildir the way an MDA does:
// into tmp/ first, then renamed into new/, so that a running Dovecot never
// sees a half-written file.
func (s *Server) deliver(user, rfc822 string) error {
	md := s.MailDir(user)
	name := deliveryName()
	tmp := filepath.Join(md, "tmp", name)
	if err := os.WriteFile(tmp, []byte(rfc822), 0o600); err != nil {
		return err
	}
	if s.mailUID >= 0 {
		if err := os.Lchown(tmp, s.mailUID, s.mailGID); err != nil {
			return err
		}
	}
	return os.Rename(tmp, filepath.Join(md, "new", name))
}

// Deliver puts a message into user's INBOX, before or after Start. A
// running Dovecot notices it at the next mailbox synchronisation (SELECT,
// NOOP, STAT on a new POP3 session).
func (s *Server) Deliver(t testing.TB, user, rfc822 string) {
	t.Helper()
	if _, err := os.Stat(s.MailDir(user)); err != nil {
		t.Fatalf("dovecot: Deliver(%q): no such user: %v", user, err)
	}
	if err := s.deliver(user, rfc822); err != nil {
		t.Fatalf("dovecot: Deliver(%q): %v", user, err)
	}
}

// config23 renders dovecot.conf for Dovecot 2.3.
func (s *Server) config23(c *config, id identities) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Generated by internal/testenv/dovecot for one test (Dovecot 2.3 syntax).")
	w("base_dir = %s", filepath.Join(s.Dir, "run"))
	w("state_dir = %s", filepath.Join(s.Dir, "state"))
	w("log_path = %s", s.logPath)
	w("instance_name = testenv-%s-%d", s.Host, s.IMAPPort)
	w("protocols = imap pop3")
	w("listen = %s", s.Host)
	// Tests distinguish stores by greeting, so it names the address.
	w("login_greeting = Dovecot testenv %s ready.", s.Host)
	w("default_internal_user = %s", id.internal)
	w("default_login_user = %s", id.login)
	if id.group != "" {
		w("default_internal_group = %s", id.group)
	}
	w("first_valid_uid = %d", id.mailUID)
	w("first_valid_gid = %d", id.mailGID)
	w("mail_uid = %d", id.mailUID)
	w("mail_gid = %d", id.mailGID)
	w("mail_location = maildir:~/Maildir")
	// Clear-text LOGIN, USER/PASS and AUTH PLAIN over plain TCP: the MMP
	// replays the user's password to the store in clear.
	w("disable_plaintext_auth = no")
	w("auth_mechanisms = plain login cram-md5")
	// The default 2 s delay after a failed login would make every negative
	// test slow.
	w("auth_failure_delay = 0")
	w("auth_verbose = yes")
	// The default allows only [A-Za-z0-9.@_-]; tests log in with UTF-8 names.
	w("auth_username_chars =")
	// Every proxied session comes from 127.0.0.1; the default limit of 10
	// per user and address is too low for concurrency tests.
	w("mail_max_userip_connections = 1000")
	if len(c.masters) > 0 {
		w("auth_master_user_separator = *")
		w("passdb {\n  driver = passwd-file\n  master = yes\n  # Check that the target user exists in the next passdb.\n  pass = yes\n  args = scheme=PLAIN %s\n}", filepath.Join(s.Dir, "masters"))
	}
	users := filepath.Join(s.Dir, "users")
	w("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s\n}", users)
	w("userdb {\n  driver = passwd-file\n  args = username_format=%%u %s\n}", users)
	if c.certFile != "" {
		w("ssl = yes")
		w("ssl_cert = <%s", c.certFile)
		w("ssl_key = <%s", c.keyFile)
	} else {
		w("ssl = no")
	}
	s.services(&b, id, c.haproxy)
	if c.haproxy {
		w("haproxy_trusted_networks = 127.0.0.0/8")
	}
	for _, e := range c.extra {
		w("%s", e)
	}
	return b.String()
}

// config24 renders dovecot.conf for Dovecot 2.4, whose settings were renamed
// (dovecot_config_version first, mail_driver/mail_path, named passdb and
// userdb blocks, auth_allow_cleartext, ssl_server_*). Not yet run: the
// machines we test on have 2.3.
func (s *Server) config24(c *config, id identities) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("dovecot_config_version = 2.4.0")
	w("dovecot_storage_version = 2.4.0")
	w("# Generated by internal/testenv/dovecot for one test (Dovecot 2.4 syntax).")
	w("base_dir = %s", filepath.Join(s.Dir, "run"))
	w("state_dir = %s", filepath.Join(s.Dir, "state"))
	w("log_path = %s", s.logPath)
	w("instance_name = testenv-%s-%d", s.Host, s.IMAPPort)
	w("protocols = imap pop3")
	w("listen = %s", s.Host)
	w("login_greeting = Dovecot testenv %s ready.", s.Host)
	w("default_internal_user = %s", id.internal)
	w("default_login_user = %s", id.login)
	if id.group != "" {
		w("default_internal_group = %s", id.group)
	}
	w("first_valid_uid = %d", id.mailUID)
	w("first_valid_gid = %d", id.mailGID)
	w("mail_uid = %d", id.mailUID)
	w("mail_gid = %d", id.mailGID)
	w("mail_driver = maildir")
	w("mail_path = ~/Maildir")
	w("auth_allow_cleartext = yes")
	w("auth_mechanisms = plain login cram-md5")
	w("auth_failure_delay = 0")
	w("auth_verbose = yes")
	w("auth_username_chars =")
	w("mail_max_userip_connections = 1000")
	if len(c.masters) > 0 {
		w("auth_master_user_separator = *")
		w("passdb masters {\n  driver = passwd-file\n  master = yes\n  result_success = continue\n  passwd_file_path = %s\n}", filepath.Join(s.Dir, "masters"))
	}
	users := filepath.Join(s.Dir, "users")
	// The passwords carry their scheme ({PLAIN}), so no default is needed.
	w("passdb users {\n  driver = passwd-file\n  passwd_file_path = %s\n}", users)
	w("userdb users {\n  driver = passwd-file\n  passwd_file_path = %s\n}", users)
	if c.certFile != "" {
		w("ssl = yes")
		w("ssl_server_cert_file = %s", c.certFile)
		w("ssl_server_key_file = %s", c.keyFile)
	} else {
		w("ssl = no")
	}
	s.services(&b, id, c.haproxy)
	if c.haproxy {
		w("haproxy_trusted_networks = 127.0.0.0/8")
	}
	for _, e := range c.extra {
		w("%s", e)
	}
	return b.String()
}

// services renders the listener blocks, common to 2.3 and 2.4.
func (s *Server) services(b *strings.Builder, id identities, haproxy bool) {
	proxyLine := ""
	if haproxy {
		proxyLine = "    haproxy = yes\n"
	}
	chroot := ""
	if !id.chroot {
		// An unprivileged Dovecot cannot chroot its login processes.
		chroot = "  chroot =\n"
	}
	imaps, pop3s := s.IMAPSPort, s.POP3SPort // 0 disables the listener
	// Without the anvil-auth-penalty socket there is no per-IP penalty,
	// which doubles the delay after every failed login (0.5 s, 4 s, 8 s…)
	// and would make negative tests slow: every test client is 127.0.0.1.
	fmt.Fprintf(b, `service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
%s  inet_listener imap {
    address = %s
    port = %d
%s  }
  inet_listener imaps {
    address = %s
    port = %d
    ssl = yes
  }
}
service pop3-login {
%s  inet_listener pop3 {
    address = %s
    port = %d
%s  }
  inet_listener pop3s {
    address = %s
    port = %d
    ssl = yes
  }
}
`, chroot, s.Host, s.IMAPPort, proxyLine, s.Host, imaps, chroot, s.Host, s.POP3Port, proxyLine, s.Host, pop3s)
}

// start launches "dovecot -F" and waits for the greetings.
func (s *Server) start(t testing.TB) {
	t.Helper()
	bin, err := testenv.LookPath("dovecot")
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartProcess(s.logPath, bin, "-F", "-c", s.confPath)
	if err != nil {
		t.Fatalf("dovecot: %v", err)
	}
	s.proc = p
	deadline := time.Now().Add(startTimeout)
	fail := func(err error) {
		t.Helper()
		s.Stop()
		t.Fatalf("dovecot on %s: %v\n%s:\n%s", s.Host, err, s.logPath, testenv.Tail(s.logPath, 8000))
	}
	for _, a := range []struct{ addr, ok string }{{s.IMAPAddr(), "* OK"}, {s.POP3Addr(), "+OK"}} {
		if err := waitGreeting(a.addr, a.ok, s.haproxy, deadline, p.Exited()); err != nil {
			fail(err)
		}
	}
}

// waitGreeting connects to addr until it accepts, and reads the greeting. A
// login process that is up before the auth process first sends "Waiting for
// authentication process to respond.." and the real greeting later; only the
// real one means that logins will work, so the fixture waits for it.
// With haproxy the listener wants a PROXY header first.
func waitGreeting(addr, ok string, haproxy bool, deadline time.Time, exited <-chan struct{}) error {
	var c net.Conn
	for {
		var err error
		c, err = net.DialTimeout("tcp", addr, time.Until(deadline))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening: %w", addr, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("dovecot exited before %s was listening", addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if haproxy {
		if _, err := io.WriteString(c, "PROXY UNKNOWN\r\n"); err != nil {
			return err
		}
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("greeting from %s: %w", addr, err)
		}
		if !strings.HasPrefix(line, ok) {
			return fmt.Errorf("greeting from %s: %q", addr, line)
		}
		if !strings.Contains(line, "Waiting for authentication") {
			// Say goodbye so that the log shows a clean disconnect.
			fmt.Fprintf(c, "%s\r\n", map[string]string{"* OK": "x LOGOUT", "+OK": "QUIT"}[ok])
			return nil
		}
	}
}

// Stop shuts Dovecot down: SIGTERM to the whole process group (which
// disconnects the clients), then after stopGrace SIGKILL to whatever is
// left. Mail and configuration stay in Dir for Restart. Stop on a
// stopped server does nothing.
func (s *Server) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.Stop(syscall.SIGTERM, stopGrace)
	s.proc = nil
}

// stopGrace is short because a Dovecot master stopped soon after it started
// sometimes waits a full second for its children, which would add up over
// hundreds of tests; mail written through a maildir survives SIGKILL.
const stopGrace = 250 * time.Millisecond

// Restart stops Dovecot if it is running and starts it again with the same
// ports and mail, for fail-over tests.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Running reports whether the Dovecot master process is alive.
func (s *Server) Running() bool {
	return s.proc.Running()
}

// Doveadm runs "doveadm -c dovecot.conf args..." against this instance and
// returns its output, e.g. Doveadm(t, "mailbox", "status", "-u", "alice",
// "messages", "INBOX") to check what a proxied APPEND stored.
func (s *Server) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	bin := testenv.Binary(t, "doveadm")
	out, err := exec.Command(bin, append([]string{"-c", s.confPath}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("dovecot: doveadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
