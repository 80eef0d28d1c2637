// Package postfix starts a private Postfix on loopback: the SMTP relay behind
// the MMP's SMTP submission proxy (docs/reference.md §4.4) in integration tests, announced
// to with Postfix's XCLIENT (SmtpRelayAnnounce xclient) or plain EHLO.
//
// Everything lives in the test's t.TempDir(): main.cf and master.cf under
// conf/, the queue, the data directory, the virtual mailboxes under mail/,
// and the log file maillog (Postfix ≥ 3.4 maillog_file, written by
// postlogd). Nothing under /etc/postfix or /var/spool/postfix is read or
// written, and the system's Postfix service is left alone, running or not.
//
// Typical usage:
//
//	pf := postfix.Start(t,
//		postfix.WithXCLIENTHosts("127.0.0.1"), // the proxy may announce clients
//		postfix.WithUser("alice", "alicepw"))  // SMTP AUTH account
//	cfg.SmtpRelays = pf.Addr()
//	... submit through the proxy from "203.0.113.9" as alice ...
//	pf.WaitLog(t, "client=client.example[203.0.113.9], sasl_method=XCLIENT, sasl_username=alice")
//	msgs := pf.WaitDelivered(t, "bob", 1) // bob@example.test, a local mailbox
//	queued := pf.Queue(t)                 // remote mail that was accepted for relaying
//
// # What the relay does
//
// smtpd listens on Addr() (127.0.0.1 and a free port unless WithHost and
// WithPort say otherwise). Its relay policy is the usual submission one,
//
//	smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
//
// with mynetworks empty unless WithMynetworks adds networks, so that the
// proxy's own address is not trusted and relaying is decided by what the
// proxy announced. Mail for the virtual mailbox domain (DefaultDomain,
// example.test, or WithDomain) is delivered by virtual(8); every local part
// exists, nothing needs declaring, and Delivered returns what a user got.
// Mail for any other domain, once accepted, goes to
// the transport "nowhere", which is listed in defer_transports: it stays in
// the deferred queue with the reason "deferred transport" (see Queue) and
// nothing ever leaves the machine. (The transport runs error(8), so even a
// flush would only bounce it.) Postfix rejects recipients of the error and
// retry transports already at RCPT time, which is why the fixture does not
// simply set default_transport = error.
//
// # SMTP AUTH, XCLIENT LOGIN and permit_sasl_authenticated
//
// Postfix authenticates through Cyrus SASL or a Dovecot auth server. By
// default the fixture runs a small in-process server of Dovecot's auth
// protocol (smtpd_sasl_type = dovecot, smtpd_sasl_path = inet:127.0.0.1:port)
// that offers PLAIN and LOGIN for the accounts given with WithUser, so no
// system users or Cyrus configuration are involved. WithDovecotSASL points
// smtpd at a real Dovecot auth listener instead (see the test that uses the
// dovecot fixture), and WithoutSASL turns SMTP AUTH off.
//
// Measured with Postfix 3.7 (TestXCLIENTLoginNeedsSASL): "XCLIENT LOGIN=alice"
// from an authorized host always sets the SASL login name that Postfix logs
// ("client=client.example[203.0.113.9], sasl_method=XCLIENT,
// sasl_username=alice") and that policy servers see, but
// permit_sasl_authenticated accepts such a session only when
// smtpd_sasl_auth_enable = yes. With SMTP AUTH off the same session is
// refused with "554 5.7.1 ...: Relay access denied". No SASL exchange takes
// place for XCLIENT LOGIN: the SASL backend is never asked, it just has to be
// configured and reachable, because smtpd refuses to start a session ("fatal:
// no SASL authentication mechanisms") when it is not. So a proxy that
// performs SMTP AUTH itself and announces the login with XCLIENT needs a
// relay with SASL enabled; one that lets the relay perform AUTH (docs/reference.md
// §4.4.1, step 8) needs that anyway.
//
// XCLIENT is accepted only from smtpd_authorized_xclient_hosts (WithXCLIENTHosts,
// default none); anyone else gets "550 5.7.0 Error: insufficient
// authorization". A successful XCLIENT is answered with a new 220 greeting
// and the client must send EHLO again.
//
// # Privileges
//
// Postfix's master(8) refuses to run unless started by root ("the master
// command is reserved for the superuser"), so Start skips the test when it is
// not root (and fails it under CI, like testenv.Need). The daemons run as the
// mail_owner postfix and setgid_group postdrop that the Debian package
// creates; the virtual mailboxes belong to postfix as well. Search (x)
// permission for others is added to the test's temporary directory so that
// the postfix user can reach the queue.
//
// # The master process
//
// master is started directly, "master -c conf -s", in the foreground. It is
// not started with testenv.StartProcess: master makes itself a session leader
// with setsid(2) and exits with a fatal error when it already leads a process
// group, which is what StartProcess arranges. Its own process group (its pid)
// holds every Postfix daemon, and Stop signals that group. Master reports
// early fatal errors (a bad main.cf, a port in use) only to syslog, before
// postlogd is running, so Start first checks main.cf with postconf and the
// port itself, and when master dies anyway the failure message shows what
// "postfix check" says.
package postfix

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// Defaults of the fixture, exported so that tests can refer to them.
const (
	// DefaultDomain is the virtual mailbox domain unless WithDomain says
	// otherwise: mail for it is delivered to Delivered(t, localPart).
	DefaultDomain = "example.test"
	// Hostname is myhostname, which the greeting and Received headers show.
	Hostname = "relay.example.test"
	// Banner is the text of the 220 greeting after the code.
	Banner = Hostname + " ESMTP Postfix testenv"
)

// startTimeout bounds how long Start waits for the first greeting. Start
// takes about 0.2 s with Postfix 3.7.
const startTimeout = 20 * time.Second

// stopGrace is how long Stop waits for master after SIGTERM before it kills
// the process group; master passes the signal on and exits at once.
const stopGrace = 2 * time.Second

// waitTimeout bounds WaitLog and WaitDelivered: delivery and postlogd are
// asynchronous, but take milliseconds.
const waitTimeout = 10 * time.Second

// Server is a running (or stopped) private Postfix. Its fields are for
// reading. A Server is not safe for concurrent use by several goroutines.
type Server struct {
	Host    string // the loopback address smtpd listens on, e.g. 127.0.0.1
	Port    int
	Dir     string   // the temporary directory holding conf/, queue/, mail/, maillog
	Version string   // mail_version, e.g. "3.7.11"
	Domains []string // the virtual mailbox domains; Domains[0] is the default

	confDir  string
	logPath  string // maillog, written by postlogd
	outPath  string // master's standard output and error
	bin      map[string]string
	auth     *authServer // nil with WithoutSASL or WithDovecotSASL
	proc     *master
	authPath string // smtpd_sasl_path, "" without SASL
}

type config struct {
	host         string
	port         int
	domains      []string
	mynetworks   []string
	xclientHosts []string
	users        []account
	sasl         bool
	dovecotPath  string
	params       [][2]string
}

type account struct{ name, password string }

// Option configures Start.
type Option func(*config)

// WithHost sets the loopback address smtpd listens on (default 127.0.0.1).
func WithHost(host string) Option { return func(c *config) { c.host = host } }

// WithPort sets the smtpd port (default: a free one from testenv.FreePortOn).
func WithPort(port int) Option { return func(c *config) { c.port = port } }

// WithDomain replaces DefaultDomain with the given virtual mailbox domains;
// the first is the one Delivered assumes for a bare local part.
func WithDomain(domains ...string) Option {
	return func(c *config) { c.domains = append([]string(nil), domains...) }
}

// WithMynetworks adds networks (CIDR, e.g. "127.0.0.2/32") to mynetworks,
// whose clients may relay without authenticating. The default is none.
// After XCLIENT, Postfix applies it to the announced address, not the
// proxy's.
func WithMynetworks(cidrs ...string) Option {
	return func(c *config) { c.mynetworks = append(c.mynetworks, cidrs...) }
}

// WithXCLIENTHosts adds addresses or networks to
// smtpd_authorized_xclient_hosts: the clients (the proxy) that may send
// XCLIENT. The default is none.
func WithXCLIENTHosts(hosts ...string) Option {
	return func(c *config) { c.xclientHosts = append(c.xclientHosts, hosts...) }
}

// WithUser adds an SMTP AUTH account (PLAIN and LOGIN) to the built-in SASL
// server. The name is compared exactly as given ("alice" or
// "alice@example.test"). It has no effect with WithDovecotSASL or
// WithoutSASL.
func WithUser(name, password string) Option {
	return func(c *config) { c.users = append(c.users, account{name, password}) }
}

// WithoutSASL turns SMTP AUTH off (smtpd_sasl_auth_enable = no): no AUTH in
// the EHLO reply, and permit_sasl_authenticated never matches, not even
// after XCLIENT LOGIN.
func WithoutSASL() Option { return func(c *config) { c.sasl = false } }

// WithDovecotSASL makes smtpd authenticate against a real Dovecot auth
// server instead of the built-in one: path is the smtpd_sasl_path, an
// absolute UNIX-domain socket path that the postfix user can reach, or
// "inet:host:port" for a Dovecot auth inet_listener.
func WithDovecotSASL(path string) Option {
	return func(c *config) { c.sasl, c.dovecotPath = true, path }
}

// WithParam sets a main.cf parameter, replacing the fixture's value if it
// sets one, e.g. WithParam("smtpd_sasl_authenticated_header", "yes").
// Parameters are applied in order after the fixture's own.
func WithParam(name, value string) Option {
	return func(c *config) { c.params = append(c.params, [2]string{name, value}) }
}

// Start writes the configuration into a new t.TempDir(), starts Postfix's
// master and waits until smtpd answers with its greeting. t.Cleanup stops
// the server. It skips the test when Postfix is not installed or the test
// does not run as root (fails under CI, see testenv.Need).
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	tools := []string{"postfix", "postconf", "postqueue", "postcat"}
	testenv.Need(t, tools...)
	if os.Geteuid() != 0 {
		msg := "postfix: Postfix's master runs only as root (\"the master command is reserved for the superuser\")"
		if testenv.InCI() {
			t.Fatal(msg + "; failing instead of skipping because CI is set")
		}
		t.Skip(msg)
	}
	c := config{host: "127.0.0.1", domains: []string{DefaultDomain}, sasl: true}
	for _, o := range opts {
		o(&c)
	}
	if len(c.domains) == 0 {
		t.Fatal("postfix: WithDomain() needs at least one domain")
	}
	if c.port == 0 {
		c.port = testenv.FreePortOn(t, c.host)
	}
	s := &Server{
		Host:    c.host,
		Port:    c.port,
		Dir:     t.TempDir(),
		Domains: c.domains,
		bin:     map[string]string{},
	}
	for _, b := range tools {
		s.bin[b], _ = testenv.LookPath(b)
	}
	var err error
	if s.Version, err = s.postconfValue("-d", "mail_version"); err != nil {
		t.Fatalf("postfix: %v", err)
	}
	if !atLeast(s.Version, 3, 4) {
		msg := fmt.Sprintf("postfix: Postfix %s is too old; the fixture needs 3.4 or later (maillog_file)", s.Version)
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	daemonDir, err := s.postconfValue("-d", "daemon_directory")
	if err != nil {
		t.Fatalf("postfix: %v", err)
	}
	s.bin["master"] = filepath.Join(daemonDir, "master")
	s.confDir = filepath.Join(s.Dir, "conf")
	s.logPath = filepath.Join(s.Dir, "maillog")
	s.outPath = filepath.Join(s.Dir, "master.out")
	if c.sasl && c.dovecotPath == "" {
		a, err := startAuthServer(c.users)
		if err != nil {
			t.Fatalf("postfix: SASL server: %v", err)
		}
		s.auth = a
		s.authPath = "inet:" + a.Addr()
	} else if c.sasl {
		s.authPath = c.dovecotPath
	}
	// Registered before setup so that a failed setup still closes the SASL
	// server; Stop on a server that never started does nothing.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postfix %s maillog (tail):\n%s", s.Addr(), s.logTail())
		}
		s.Stop()
		if s.auth != nil {
			s.auth.Close()
		}
	})
	if err := s.setup(&c); err != nil {
		t.Fatalf("postfix: %v", err)
	}
	s.start(t)
	return s
}

// Addr returns host:port of the smtpd listener.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Log returns the Postfix log (maillog_file): one line per connection,
// rejection, queued message and delivery. postlogd writes it asynchronously,
// so a line about a reply the test just read may not be there yet; WaitLog
// waits for it.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// LogPath returns the path of the log file.
func (s *Server) LogPath() string { return s.logPath }

// WaitLog waits until a line of the log contains substr and returns that
// line. It fails the test, showing the log, if none does within 10 s.
func (s *Server) WaitLog(t testing.TB, substr string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, line := range strings.Split(s.Log(), "\n") {
			if strings.Contains(line, substr) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix: no log line contains %q after %v\n%s:\n%s", substr, waitTimeout, s.logPath, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTail is what every failure message shows: the end of the maillog and
// anything master wrote to its standard output or error.
func (s *Server) logTail() string {
	out := testenv.Tail(s.logPath, 8000)
	if b, err := os.ReadFile(s.outPath); err == nil && len(b) > 0 {
		out += "\nmaster output:\n" + string(b)
	}
	return out
}

// sharedMaildir is the one maildir, under virtual_mailbox_base, that
// receives the mail of every local part (see Delivered).
const sharedMaildir = "maildir"

// address completes a bare local part with the default domain.
func (s *Server) address(user string) string {
	if strings.Contains(user, "@") {
		return user
	}
	return user + "@" + s.Domains[0]
}

// Delivered returns the messages delivered so far to user ("bob" for bob@
// the default domain, or a full address), oldest first, each as the stored
// RFC 822 text with the Delivered-To, Return-Path and Received headers
// Postfix added. A user who never received mail has none, which is not an
// error.
//
// Every local part of every domain is deliverable: virtual(8) refuses
// regexp substitutions in virtual_mailbox_maps, so per-user maildirs would
// need every user declared in advance. Instead all mail goes to one
// maildir (static:maildir/), one file per recipient, and Delivered picks
// the files whose Delivered-To header names user (case-insensitively).
func (s *Server) Delivered(t testing.TB, user string) []string {
	t.Helper()
	msgs, err := readMaildir(filepath.Join(s.Dir, "mail", sharedMaildir))
	if err != nil {
		t.Fatalf("postfix: Delivered(%q): %v", user, err)
	}
	want := s.address(user)
	var mine []string
	for _, m := range msgs {
		if strings.EqualFold(deliveredTo(m), want) {
			mine = append(mine, m)
		}
	}
	return mine
}

// deliveredTo returns the first Delivered-To header of msg, the one
// virtual(8) prepends.
func deliveredTo(msg string) string {
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break // end of the header
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Delivered-To") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// WaitDelivered waits until user's mailbox holds at least n messages and
// returns them (see Delivered). Delivery happens after the 250 reply to the
// end of DATA, so a test that has just sent a message must wait for it.
func (s *Server) WaitDelivered(t testing.TB, user string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		msgs := s.Delivered(t, user)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix: %d messages delivered to %s after %v, want %d; queue %q\n%s:\n%s",
				len(msgs), user, waitTimeout, n, s.Queue(t), s.logPath, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readMaildir returns the contents of the files in new/ and cur/, ordered
// by modification time and then by name (which starts with the delivery
// time in seconds).
func readMaildir(dir string) ([]string, error) {
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			files = append(files, file{filepath.Join(dir, sub, e.Name()), info.ModTime()})
		}
	}
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mod.Equal(files[j].mod) {
			return files[i].mod.Before(files[j].mod)
		}
		return filepath.Base(files[i].path) < filepath.Base(files[j].path)
	})
	msgs := make([]string, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, string(b))
	}
	return msgs, nil
}

// Queue lists the messages in the mail queue (postqueue -j), one string per
// message:
//
//	"<queue id> <queue name> from=<sender> to=<rcpt1> to=<rcpt2>"
//
// e.g. "4F2A1984045 deferred from=<alice@example.test> to=<someone@remote.example>".
// Accepted mail for remote domains stays here (see the package doc), so a
// test checks that the relay accepted a relayed message with
// strings.Contains(q, "to=<someone@remote.example>"). Messages being
// delivered locally pass through the queue for a few milliseconds too.
func (s *Server) Queue(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command(s.bin["postqueue"], "-c", s.confDir, "-j").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("postfix: postqueue -j: %v\n%s\n%s:\n%s", err, stderr, s.logPath, s.logTail())
	}
	var queue []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m struct {
			QueueName  string `json:"queue_name"`
			QueueID    string `json:"queue_id"`
			Sender     string `json:"sender"`
			Recipients []struct {
				Address string `json:"address"`
			} `json:"recipients"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("postfix: postqueue -j line %q: %v", sc.Text(), err)
		}
		line := fmt.Sprintf("%s %s from=<%s>", m.QueueID, m.QueueName, m.Sender)
		for _, r := range m.Recipients {
			line += " to=<" + r.Address + ">"
		}
		queue = append(queue, line)
	}
	sort.Strings(queue)
	return queue
}

// QueuedMessage returns the headers and body of a queued message (postcat
// -bh), e.g. to check the Received header of relayed mail, which names the
// client Postfix believed in. id is the first field of a Queue entry.
func (s *Server) QueuedMessage(t testing.TB, id string) string {
	t.Helper()
	out, err := exec.Command(s.bin["postcat"], "-c", s.confDir, "-bh", "-q", id).CombinedOutput()
	if err != nil {
		t.Fatalf("postfix: postcat -q %s: %v\n%s", id, err, out)
	}
	return string(out)
}

var (
	defaultsMu sync.Mutex
	defaults   = map[string]string{}
)

// postconfValue runs "postconf -h args..." (cached: these are the package's
// compiled-in defaults, the same for every test).
func (s *Server) postconfValue(args ...string) (string, error) {
	key := strings.Join(args, " ")
	defaultsMu.Lock()
	defer defaultsMu.Unlock()
	if v, ok := defaults[key]; ok {
		return v, nil
	}
	out, err := exec.Command(s.bin["postconf"], append([]string{"-h"}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("postconf -h %s: %w", key, err)
	}
	v := strings.TrimSpace(string(out))
	defaults[key] = v
	return v, nil
}

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// atLeast reports whether version is major.minor or later.
func atLeast(version string, major, minor int) bool {
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return false
	}
	ma, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return ma > major || ma == major && mi >= minor
}

// ids are the Debian package's system accounts.
type ids struct {
	owner, group string // mail_owner, setgid_group
	uid, gid     int    // of the owner, for queue files and mailboxes
	dropGID      int    // of setgid_group
}

func lookupIDs() (ids, error) {
	id := ids{owner: "postfix", group: "postdrop"}
	u, err := user.Lookup(id.owner)
	if err != nil {
		return id, fmt.Errorf("mail_owner: %w (the postfix package creates it)", err)
	}
	g, err := user.LookupGroup(id.group)
	if err != nil {
		return id, fmt.Errorf("setgid_group: %w (the postfix package creates it)", err)
	}
	id.uid, _ = strconv.Atoi(u.Uid)
	id.gid, _ = strconv.Atoi(u.Gid)
	id.dropGID, _ = strconv.Atoi(g.Gid)
	return id, nil
}

// setup creates the directories with the ownership "postfix check" would
// give them (doing it here saves the second that postfix-script takes) and
// writes main.cf, master.cf and the mailbox map.
func (s *Server) setup(c *config) error {
	id, err := lookupIDs()
	if err != nil {
		return err
	}
	if err := makeTraversable(s.Dir); err != nil {
		return err
	}
	queue := filepath.Join(s.Dir, "queue")
	dirs := []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{s.confDir, 0o755, 0, 0},
		{queue, 0o755, 0, 0},
		{filepath.Join(queue, "pid"), 0o755, 0, 0},
		{filepath.Join(queue, "maildrop"), 0o730, id.uid, id.dropGID},
		{filepath.Join(queue, "public"), 0o710, id.uid, id.dropGID},
		{filepath.Join(s.Dir, "data"), 0o700, id.uid, id.gid},
		{filepath.Join(s.Dir, "mail"), 0o700, id.uid, id.gid},
	}
	for _, q := range []string{"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"} {
		dirs = append(dirs, struct {
			path     string
			mode     os.FileMode
			uid, gid int
		}{filepath.Join(queue, q), 0o700, id.uid, 0})
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(d.path, d.mode); err != nil { // not subject to umask
			return err
		}
		if err := os.Chown(d.path, d.uid, d.gid); err != nil {
			return err
		}
	}
	for _, d := range c.domains {
		if d == "" || strings.ContainsAny(d, ", \t\r\n") {
			return fmt.Errorf("WithDomain(%q): not a domain name", d)
		}
	}
	files := map[string]string{"main.cf": s.mainCf(c, id), "master.cf": s.masterCf()}
	for name, text := range files {
		p := filepath.Join(s.confDir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
		// Postfix reads a table or main.cf that changed within the last
		// second again and again until it is a second old, in case an
		// editor is still writing it: 2 s for every fresh server. Backdating
		// the files avoids the wait.
		old := time.Now().Add(-time.Minute)
		if err := os.Chtimes(p, old, old); err != nil {
			return err
		}
	}
	return nil
}

// mainCf renders main.cf. Every parameter is explained in postconf(5); the
// comments say why the fixture chose its value.
func (s *Server) mainCf(c *config, id ids) string {
	type param struct{ name, value, why string }
	compat := "2"
	if atLeast(s.Version, 3, 6) {
		compat = "3.6" // Debian 12's default; silences the compatibility warnings
	}
	protocols := "ipv4"
	if strings.Contains(s.Host, ":") {
		protocols = "ipv6"
	}
	sasl := "no"
	if s.authPath != "" {
		sasl = "yes"
	}
	var saslParams []param
	if s.authPath != "" {
		// smtpd refuses an empty smtpd_sasl_path even with AUTH off, so
		// these are only written when it is on.
		saslParams = []param{
			{"smtpd_sasl_type", "dovecot", "the built-in auth server speaks Dovecot's protocol"},
			{"smtpd_sasl_path", s.authPath, ""},
			{"smtpd_sasl_security_options", "noanonymous", "PLAIN and LOGIN over plain TCP, as from the proxy"},
		}
	}
	params := []param{
		{"compatibility_level", compat, ""},
		{"queue_directory", filepath.Join(s.Dir, "queue"), "everything inside the test's directory"},
		{"data_directory", filepath.Join(s.Dir, "data"), ""},
		{"mail_owner", id.owner, "the Debian package's accounts"},
		{"setgid_group", id.group, ""},
		{"maillog_file", s.logPath, "Postfix ≥ 3.4: log through postlogd into a file, no syslog needed"},
		{"maillog_file_prefixes", s.Dir, ""},
		{"myhostname", Hostname, ""},
		{"mydomain", "example.test", ""},
		{"myorigin", "$mydomain", ""},
		{"mydestination", "", "no local(8) delivery: no system users involved"},
		{"inet_interfaces", s.Host, ""},
		{"inet_protocols", protocols, ""},
		{"mynetworks", strings.Join(c.mynetworks, ", "), "trust nobody by default, not even the proxy"},
		{"smtpd_authorized_xclient_hosts", strings.Join(c.xclientHosts, ", "), ""},
		{"smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination", ""},
		{"smtpd_recipient_restrictions", "", ""},
		{"smtpd_banner", "$myhostname ESMTP Postfix testenv", ""},
		{"smtpd_peername_lookup", "no", "127.0.0.x other than .1 may have no PTR; a DNS timeout would stall every test"},
		{"smtpd_error_sleep_time", "0", "negative tests must not wait"},
		{"smtpd_sasl_auth_enable", sasl, ""},
		{"virtual_mailbox_domains", strings.Join(c.domains, ", "), ""},
		{"virtual_mailbox_base", filepath.Join(s.Dir, "mail"), ""},
		{"virtual_mailbox_maps", "static:" + sharedMaildir + "/", "every local part exists; one maildir (see Delivered)"},
		{"virtual_uid_maps", fmt.Sprintf("static:%d", id.uid), ""},
		{"virtual_gid_maps", fmt.Sprintf("static:%d", id.gid), ""},
		{"virtual_minimum_uid", strconv.Itoa(id.uid), ""},
		{"relayhost", "", ""},
		{"default_transport", "nowhere:remote delivery disabled in tests", "remote mail stays in the queue (package doc)"},
		{"defer_transports", "nowhere", ""},
		{"alias_maps", "", "no /etc/aliases"},
		{"alias_database", "", ""},
		{"biff", "no", ""},
	}
	params = append(params, saslParams...)
	for _, p := range c.params {
		replaced := false
		for i := range params {
			if params[i].name == p[0] {
				params[i].value, params[i].why, replaced = p[1], "WithParam", true
			}
		}
		if !replaced {
			params = append(params, param{p[0], p[1], "WithParam"})
		}
	}
	var b strings.Builder
	b.WriteString("# Generated by internal/testenv/postfix for one test; see postconf(5).\n")
	for _, p := range params {
		if p.why != "" {
			fmt.Fprintf(&b, "# %s\n", p.why)
		}
		fmt.Fprintf(&b, "%s = %s\n", p.name, p.value)
	}
	return b.String()
}

// masterCf renders master.cf: the smtpd listener and the services a
// message needs on its way to a virtual mailbox or the deferred queue.
func (s *Server) masterCf() string {
	return fmt.Sprintf(`# Generated by internal/testenv/postfix for one test; see master(5).
# service type  private unpriv  chroot  wakeup  maxproc command
%-13s inet n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# default_transport: listed in defer_transports, so mail for it stays queued.
nowhere   unix  -       -       n       -       -       error
`, s.Addr())
}

// makeTraversable adds search permission for others to the directories
// between the temporary-directory root and dir: go test creates them 0700,
// and the Postfix daemons, running as postfix, must reach the queue. Only
// directories under os.TempDir() are touched.
func makeTraversable(dir string) error {
	root := filepath.Clean(os.TempDir())
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
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by others, so Postfix's daemons (user postfix) cannot reach %s; set TMPDIR to a directory under a searchable path", d, dir)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// start launches master in the foreground and waits for smtpd's greeting.
func (s *Server) start(t testing.TB) {
	t.Helper()
	// postconf reports what master would only tell syslog: unknown or
	// malformed parameters.
	if out, err := exec.Command(s.bin["postconf"], "-c", s.confDir, "-n").CombinedOutput(); err != nil || strings.Contains(string(out), "warning:") {
		t.Fatalf("postfix: postconf -c %s -n: %v\n%s", s.confDir, err, out)
	}
	// A port in use would make master die with a message only syslog sees.
	if ln, err := net.Listen("tcp", s.Addr()); err != nil {
		t.Fatalf("postfix: cannot listen on %s: %v", s.Addr(), err)
	} else {
		ln.Close()
	}
	// -s keeps master's standard output open, so that anything it or a
	// daemon prints ends up in master.out rather than /dev/null.
	p, err := startMaster(s.outPath, s.bin["master"], "-c", s.confDir, "-s")
	if err != nil {
		t.Fatalf("postfix: %v", err)
	}
	s.proc = p
	if err := waitGreeting(s.Addr(), time.Now().Add(startTimeout), p.exited); err != nil {
		s.Stop()
		t.Fatalf("postfix on %s: %v\n(master logs early fatal errors only to syslog; postfix check says: %q)\n%s:\n%s",
			s.Addr(), err, s.check(), s.logPath, s.logTail())
	}
}

// check runs "postfix check", which finds most reasons for master to die
// at start-up. Like master, it reports them only to syslog unless its
// standard error is a terminal, so it runs under script(1) (util-linux,
// part of every Debian system) when that is installed.
func (s *Server) check() string {
	argv := []string{s.bin["postfix"], "-c", s.confDir, "check"}
	var cmd *exec.Cmd
	if script, err := exec.LookPath("script"); err == nil {
		cmd = exec.Command(script, "-qec", strings.Join(argv, " "), os.DevNull)
	} else {
		cmd = exec.Command(argv[0], argv[1:]...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s(%v)", out, err)
	}
	return string(out)
}

// waitGreeting connects to addr until it accepts, reads the 220 greeting
// and says QUIT, so that the log shows a clean session. A greeting proves
// more than a listening socket: master binds the port itself, and smtpd
// (which dies at once on, say, an unreachable SASL server) only runs when
// a client connects.
func waitGreeting(addr string, deadline time.Time, exited <-chan struct{}) error {
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
			return fmt.Errorf("master exited before %s was listening", addr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer c.Close()
	c.SetDeadline(deadline)
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("greeting from %s: %w (partial %q)", addr, err, line)
	}
	if !strings.HasPrefix(line, "220 ") {
		return fmt.Errorf("greeting from %s: %q", addr, line)
	}
	fmt.Fprintf(c, "QUIT\r\n")
	r.ReadString('\n')
	return nil
}

// Stop shuts Postfix down: SIGTERM to master's process group, then SIGKILL
// to whatever is left after a grace period. The queue, the mailboxes and
// the log stay in Dir for Restart. Stop on a stopped server does nothing.
func (s *Server) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.stop(syscall.SIGTERM, stopGrace)
	s.proc = nil
}

// Restart stops Postfix if it is running and starts it again on the same
// address with the same queue and mailboxes, for fail-over tests.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Running reports whether the master process is alive.
func (s *Server) Running() bool {
	if s.proc == nil {
		return false
	}
	select {
	case <-s.proc.exited:
		return false
	default:
		return true
	}
}
