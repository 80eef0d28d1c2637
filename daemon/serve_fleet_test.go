package daemon

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/postfix"
	"github.com/openmmp/mmp/internal/testenv/redis"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// The fleet (docs/reference.md §4.9): AService processes that share one
// real redis-server, as MMPs behind a load balancer do.

// fleetBin is the AService binary the fleet tests run, built once.
var fleetBin = struct {
	once sync.Once
	path string
	err  error
}{}

func aserviceBinary(t *testing.T) string {
	t.Helper()
	fleetBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "openmmp-fleet-")
		if err != nil {
			fleetBin.err = err
			return
		}
		fleetBin.path = filepath.Join(dir, "AService")
		cmd := exec.Command(testenv.GoTool(), "build", "-o", fleetBin.path, "./cmd/AService")
		cmd.Dir = testenv.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			fleetBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if fleetBin.err != nil {
		t.Fatal(fleetBin.err)
	}
	return fleetBin.path
}

// mmp is one AService process of a fleet.
type mmp struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *bytes.Buffer
	// addresses of its services and metrics listener, by name: imap,
	// pop, smtp, metrics.
	addr map[string]string
}

// startMMP writes an instance with the given services and service
// files and runs it; aservice is added to AService.cfg.
func startMMP(t *testing.T, aservice string, services map[string]string) *mmp {
	t.Helper()
	m := &mmp{t: t, dir: t.TempDir(), exited: make(chan struct{}), stderr: &bytes.Buffer{}, addr: map[string]string{}}
	for _, d := range []string{"log", "run"} {
		if err := os.Mkdir(filepath.Join(m.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	m.addr["metrics"] = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	var list []string
	files := map[string]string{}
	for _, name := range []string{"imap", "pop", "smtp"} {
		text, ok := services[name]
		if !ok {
			continue
		}
		m.addr[name] = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		module := map[string]string{"imap": "ImapProxyAService", "pop": "PopProxyAService", "smtp": "SmtpProxyAService"}[name]
		list = append(list, module+"@"+m.addr[name])
		files[module+".cfg"] = text
	}
	files["AService.cfg"] = fmt.Sprintf("default:ServiceList %s\ndefault:MetricsListen %s\ndefault:LogLevel 7\n%s",
		strings.Join(list, " "), m.addr["metrics"], aservice)
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(m.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pidfile := filepath.Join(m.dir, "run", "AService.pid")
	m.cmd = exec.Command(aserviceBinary(t), "-c", m.dir, "-pidfile", pidfile)
	m.cmd.Stderr = m.stderr
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(ShutdownGrace + 5*time.Second):
			m.cmd.Process.Kill()
			t.Error("AService did not exit after SIGTERM")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(pidfile); err == nil {
			return m
		}
		select {
		case <-m.exited:
			t.Fatalf("AService exited: %s", m.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("AService did not start: %s", m.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the process as kill -9 does: no cleanup of any kind.
func (m *mmp) kill() {
	m.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.t.Fatal("AService did not die of SIGKILL")
	}
}

// log returns the text of the process's log files matching glob
// (AService_*.log, ImapProxy_*.log ...).
func (m *mmp) log(glob string) string {
	files, _ := filepath.Glob(filepath.Join(m.dir, "log", glob))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// waitLog waits until the process's logs matching glob have a line
// matching re.
func (m *mmp) waitLog(glob, re string) {
	m.t.Helper()
	waitLog(m.t, filepath.Join(m.dir, "log"), glob, regexp.MustCompile(re), m.dir)
}

func (m *mmp) metrics() map[string]float64 {
	m.t.Helper()
	return scrape(m.t, "http://"+m.addr["metrics"])
}

// fleetParams is the AService.cfg part naming the shared Redis; the
// lease time is short so that a dead MMP's leases run out quickly, and
// the call timeout generous so that a busy test machine does not look
// like an outage.
func fleetParams(r *redis.Server) string {
	return fmt.Sprintf("default:FleetRedis %s\ndefault:FleetLeaseTime 5\ndefault:FleetCallTimeout 2000\n", r.URL())
}

// imapFile is an ImapProxyAService.cfg in front of the two stores.
func imapFile(env *twostores.Env, extra string) string {
	return fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\n"+
		"default:BacksidePort %d\ndefault:AuthFailureDelay 0\ndefault:LogLevel 7\n%s",
		env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort, extra)
}

// popFile is a PopProxyAService.cfg in front of the two stores.
func popFile(env *twostores.Env, extra string) string {
	return fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\n"+
		"default:BacksidePort %d\ndefault:HostedDomains no\ndefault:AuthFailureDelay 0\ndefault:LogLevel 7\n%s",
		env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.POP3Port, extra)
}

// imapLogin connects from a loopback address, logs in and returns the
// connection and the tagged reply.
func imapLogin(t *testing.T, from, addr, user, pass string) (*lineConn, string) {
	t.Helper()
	c := dialFrom(t, from, addr)
	if g := c.say(""); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting from %s: %q", addr, g)
	}
	return c, c.say("a LOGIN " + user + " " + pass)
}

// waitUntil polls cond for at most 20 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A failed login on one MMP delays the next login of the same address
// on the other, and a success there forgives it for the whole fleet.
func TestFleetBadGuys(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.31")
	env := twostores.Start(t)
	r := redis.Start(t)
	imap := imapFile(env, "default:BGPenalty 2\n")
	a := startMMP(t, fleetParams(r), map[string]string{"imap": imap})
	b := startMMP(t, fleetParams(r), map[string]string{"imap": imap})
	alice := twostores.User("alice")

	if _, got := imapLogin(t, "127.0.0.31", a.addr["imap"], "alice", "wrong"); !strings.HasPrefix(got, "a NO") {
		t.Fatalf("wrong password on MMP a: %q", got)
	}
	a.waitLog("ImapProxy_*.log", `badguy 127\.0\.0\.31 now has 2 badness`)
	if _, got := imapLogin(t, "127.0.0.31", b.addr["imap"], "alice", alice.Password); !strings.HasPrefix(got, "a OK") {
		t.Fatalf("login on MMP b: %q", got)
	}
	b.waitLog("ImapProxy_*.log", `badguy 127\.0\.0\.31: delaying the login 2 seconds`)
	key := "mmp:{imap:127.0.0.31}:bg"
	waitUntil(t, "the success on b to forgive the address", func() bool { return r.Cli(t, "EXISTS", key) == "0" })
}

// ConnLimits 20 counts the connections of one address on both MMPs: the
// 21st is refused on either. An MMP killed with SIGKILL leaves its
// leases behind, and they stop counting within FleetLeaseTime.
func TestFleetConnLimits(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.32")
	env := twostores.Start(t)
	r := redis.Start(t)
	imap := imapFile(env, "default:ConnLimits \"127.0.0.32|255.255.255.255:20\"\n")
	a := startMMP(t, fleetParams(r), map[string]string{"imap": imap})
	b := startMMP(t, fleetParams(r), map[string]string{"imap": imap})
	for i := range 20 {
		m := a
		if i%2 == 1 {
			m = b
		}
		c := dialFrom(t, "127.0.0.32", m.addr["imap"])
		if g := c.say(""); !strings.HasPrefix(g, "* OK") {
			t.Fatalf("connection %d: %q", i+1, g)
		}
	}
	for _, m := range []*mmp{a, b} {
		c := dialFrom(t, "127.0.0.32", m.addr["imap"])
		if g := c.say(""); !strings.HasPrefix(g, "* BYE") {
			t.Fatalf("21st connection: %q", g)
		}
	}
	b.waitLog("ImapProxy_*.log", `Connection limit reached for client IP 127\.0\.0\.32 \(20 across the fleet\)`)
	if n := b.metrics()[`mmp_connections_refused_total{reason="connlimits",service="imap"}`]; n != 1 {
		t.Errorf("b counted %v connlimits refusals, want 1", n)
	}
	// Another address is not affected.
	if c := dialFrom(t, "127.0.0.1", b.addr["imap"]); !strings.HasPrefix(c.say(""), "* OK") {
		t.Error("127.0.0.1 refused")
	}

	a.kill()
	// a's ten connections stop counting within the lease time (5 s). Each
	// lease runs out on its own: a's connections were opened (and their
	// leases last renewed) at different moments, so the first admission
	// on b can come while some of them still count. A dial prunes the
	// leases run out; then only b's count: its ten, and the one just
	// opened unless it is already released.
	waitUntil(t, "the leases of the dead MMP to run out", func() bool {
		c := dialFrom(t, "127.0.0.32", b.addr["imap"])
		defer c.c.Close()
		if !strings.HasPrefix(c.say(""), "* OK") {
			return false
		}
		n := r.Cli(t, "ZCARD", "mmp:{imap:127.0.0.32}:conn")
		return n == "10" || n == "11"
	})
}

// A POP login on one MMP opens SMTP relaying from the same address on
// the other, whose POP proxy answers XQUERYAUTH with the fleet's view.
func TestFleetPopBeforeSmtp(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.33", "127.0.0.34")
	env := twostores.Start(t)
	r := redis.Start(t)
	relay := postfix.Start(t, postfix.WithXCLIENTHosts("127.0.0.1"))
	pop := popFile(env, "default:AuthService yes\ndefault:AuthServiceTTL 600\n")
	smtp := fmt.Sprintf("default:SmtpRelays %s\ndefault:SmtpRelayAnnounce xclient\ndefault:Timeout 600\n", relay.Addr())
	a := startMMP(t, fleetParams(r), map[string]string{"pop": pop})
	b := startMMP(t, fleetParams(r), map[string]string{"pop": pop, "smtp": smtp})

	bob := twostores.User("bob")
	c := dialFrom(t, "127.0.0.33", a.addr["pop"])
	for _, step := range []struct{ send, want string }{
		{"", "+OK"}, {"USER bob", "+OK"}, {"PASS " + bob.Password, "+OK"}, {"QUIT", "+OK"},
	} {
		if got := c.say(step.send); !strings.HasPrefix(got, step.want) {
			t.Fatalf("POP %q: %q", step.send, got)
		}
	}
	// b's POP proxy knows of the login on a.
	waitUntil(t, "XQUERYAUTH on b to know bob", func() bool {
		q := dialFrom(t, "127.0.0.1", b.addr["pop"])
		defer q.c.Close()
		q.say("")
		return strings.HasPrefix(q.say("XQUERYAUTH 127.0.0.33"), "+OK bob")
	})
	for _, cs := range []struct{ from, want string }{{"127.0.0.33", "250"}, {"127.0.0.34", "554"}} {
		s := dialFrom(t, cs.from, b.addr["smtp"])
		for _, step := range []struct{ send, want string }{
			{"", "220"}, {"EHLO client.example", "250"}, {"MAIL FROM:<bob@example.com>", "250"},
			{"RCPT TO:<someone@remote.example>", cs.want},
		} {
			if got := s.say(step.send); !strings.HasPrefix(got, step.want) {
				t.Errorf("SMTP on b from %s %q: %q, want %s", cs.from, step.send, got, step.want)
				break
			}
		}
		s.say("QUIT")
	}
}

// Redis stopped mid-test: logins go on, the outage and the recovery are
// logged once each, the local BadGuys table takes over, and after the
// restart the fleet's state is used again.
func TestFleetRedisOutage(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.35", "127.0.0.36")
	env := twostores.Start(t)
	r := redis.Start(t)
	imap := imapFile(env, "default:BGPenalty 1\n")
	params := fleetParams(r) + "default:FleetCallTimeout 200\n"
	a := startMMP(t, params, map[string]string{"imap": imap})
	b := startMMP(t, params, map[string]string{"imap": imap})
	alice := twostores.User("alice")
	if _, got := imapLogin(t, "127.0.0.1", a.addr["imap"], "alice", alice.Password); !strings.HasPrefix(got, "a OK") {
		t.Fatalf("login: %q", got)
	}
	if up := a.metrics()["mmp_fleet_up"]; up != 1 {
		t.Errorf("mmp_fleet_up %v, want 1", up)
	}

	r.Stop()
	for i := range 3 {
		if _, got := imapLogin(t, "127.0.0.1", a.addr["imap"], "alice", alice.Password); !strings.HasPrefix(got, "a OK") {
			t.Fatalf("login %d with Redis down: %q", i+1, got)
		}
	}
	a.waitLog("AService_*.log", `fleet: Redis at redis://127\.0\.0\.1:\d+ unreachable`)
	m := a.metrics()
	if m["mmp_fleet_up"] != 0 || m[`mmp_fleet_errors_total{operation="connlimits"}`] < 1 {
		t.Errorf("during the outage: up %v, connlimits errors %v", m["mmp_fleet_up"], m[`mmp_fleet_errors_total{operation="connlimits"}`])
	}
	// The local table counts failures meanwhile.
	imapLogin(t, "127.0.0.35", a.addr["imap"], "alice", "wrong")
	imapLogin(t, "127.0.0.35", a.addr["imap"], "alice", alice.Password)
	a.waitLog("ImapProxy_*.log", `badguy 127\.0\.0\.35: delaying the login 1 seconds`)

	r.Restart(t)
	a.waitLog("AService_*.log", `fleet: Redis at redis://127\.0\.0\.1:\d+ answers again`)
	log := a.log("AService_*.log")
	if n, k := strings.Count(log, "unreachable"), strings.Count(log, "answers again"); n != 1 || k != 1 {
		t.Errorf("%d outage and %d recovery lines, want one each:\n%s", n, k, log)
	}
	if up := a.metrics()["mmp_fleet_up"]; up != 1 {
		t.Errorf("mmp_fleet_up %v after the recovery, want 1", up)
	}
	// The fleet's state again: a failure on a delays a login on b.
	imapLogin(t, "127.0.0.36", a.addr["imap"], "alice", "wrong")
	a.waitLog("ImapProxy_*.log", `badguy 127\.0\.0\.36 now has 1 badness`)
	if _, got := imapLogin(t, "127.0.0.36", b.addr["imap"], "alice", alice.Password); !strings.HasPrefix(got, "a OK") {
		t.Fatalf("login on b: %q", got)
	}
	b.waitLog("ImapProxy_*.log", `badguy 127\.0\.0\.36: delaying the login 1 seconds`)
}

// FleetFailClosed: while Redis is down, new connections are refused and
// so are logins on connections already open; after the recovery both
// are served again.
func TestFleetFailClosed(t *testing.T) {
	env := twostores.Start(t)
	r := redis.Start(t)
	a := startMMP(t, fleetParams(r)+"default:FleetFailClosed yes\ndefault:FleetCallTimeout 200\n",
		map[string]string{"imap": imapFile(env, "")})
	alice := twostores.User("alice")
	open := dialFrom(t, "127.0.0.1", a.addr["imap"])
	if g := open.say(""); !strings.HasPrefix(g, "* OK") {
		t.Fatal(g)
	}
	r.Stop()
	c := dialFrom(t, "127.0.0.1", a.addr["imap"])
	if g := c.say(""); !strings.HasPrefix(g, "* BYE") {
		t.Errorf("new connection with Redis down: %q", g)
	}
	if got := open.say("a LOGIN alice " + alice.Password); !strings.HasPrefix(got, "a NO [UNAVAILABLE]") {
		t.Errorf("login with Redis down: %q", got)
	}
	m := a.metrics()
	if n := m[`mmp_connections_refused_total{reason="fleet",service="imap"}`]; n != 2 {
		t.Errorf("%v fleet refusals, want 2", n)
	}
	r.Restart(t)
	a.waitLog("AService_*.log", `answers again`)
	if _, got := imapLogin(t, "127.0.0.1", a.addr["imap"], "alice", alice.Password); !strings.HasPrefix(got, "a OK") {
		t.Errorf("login after the recovery: %q", got)
	}
}

// imaplibLogin logs in with Python's imaplib, a real client, and
// returns what it printed: "OK" or the error.
func imaplibLogin(t *testing.T, addr, user, pass string) string {
	t.Helper()
	py := testenv.Binary(t, "python3")
	host, port, _ := net.SplitHostPort(addr)
	out, _ := exec.Command(py, "-c", `
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
try:
    m.login(sys.argv[3], sys.argv[4])
    print("OK")
    m.logout()
except imaplib.IMAP4.error as e:
    print("ERROR", e)
`, host, port, user, pass).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// poplibLogin does the same with poplib.
func poplibLogin(t *testing.T, addr, user, pass string) string {
	t.Helper()
	py := testenv.Binary(t, "python3")
	host, port, _ := net.SplitHostPort(addr)
	out, _ := exec.Command(py, "-c", `
import poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
try:
    p.user(sys.argv[3])
    p.pass_(sys.argv[4])
    print("OK")
    p.quit()
except poplib.error_proto as e:
    print("ERROR", e)
`, host, port, user, pass).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// MaxUserSessions without a fleet: the process counts.
func TestMaxUserSessionsLocal(t *testing.T) {
	env := twostores.Start(t)
	a := startMMP(t, "", map[string]string{
		"imap": imapFile(env, "default:MaxUserSessions 2\n"),
		"pop":  popFile(env, "default:MaxUserSessions 1\n"),
	})
	alice, bob := twostores.User("alice"), twostores.User("bob")
	var held []*lineConn
	for range 2 {
		c, got := imapLogin(t, "127.0.0.1", a.addr["imap"], "alice", alice.Password)
		if !strings.HasPrefix(got, "a OK") {
			t.Fatalf("login: %q", got)
		}
		held = append(held, c)
	}
	if got := imaplibLogin(t, a.addr["imap"], "alice", alice.Password); !strings.Contains(got, "[LIMIT] Too many sessions for this user") {
		t.Errorf("third IMAP session: %s", got)
	}
	p := dialFrom(t, "127.0.0.1", a.addr["pop"])
	p.say("")
	p.say("USER bob")
	if got := p.say("PASS " + bob.Password); !strings.HasPrefix(got, "+OK") {
		t.Fatalf("POP login: %q", got)
	}
	if got := poplibLogin(t, a.addr["pop"], "bob", bob.Password); !strings.Contains(got, "-ERR [IN-USE] Too many sessions for this user") {
		t.Errorf("second POP session: %s", got)
	}
	// The end of a session frees its place.
	held[0].say("a LOGOUT")
	held[0].c.Close()
	waitUntil(t, "alice's session to end", func() bool {
		return imaplibLogin(t, a.addr["imap"], "alice", alice.Password) == "OK"
	})
	m := a.metrics()
	if m[`mmp_connections_refused_total{reason="usersessions",service="imap"}`] < 1 || m[`mmp_connections_refused_total{reason="usersessions",service="pop"}`] != 1 {
		t.Errorf("usersessions refusals: %v", m)
	}
	if m[`mmp_logins_total{outcome="too many sessions",service="imap"}`] < 1 {
		t.Error("no login counted as too many sessions")
	}
}

// MaxUserSessions across the fleet: one session of alice on each MMP,
// and a third on either is refused.
func TestMaxUserSessionsFleet(t *testing.T) {
	env := twostores.Start(t)
	r := redis.Start(t)
	imap := imapFile(env, "default:MaxUserSessions 2\n")
	a := startMMP(t, fleetParams(r), map[string]string{"imap": imap})
	b := startMMP(t, fleetParams(r), map[string]string{"imap": imap})
	alice := twostores.User("alice")
	for _, m := range []*mmp{a, b} {
		if _, got := imapLogin(t, "127.0.0.1", m.addr["imap"], "alice", alice.Password); !strings.HasPrefix(got, "a OK") {
			t.Fatalf("login: %q", got)
		}
	}
	for _, m := range []*mmp{a, b} {
		if got := imaplibLogin(t, m.addr["imap"], "alice", alice.Password); !strings.Contains(got, "[LIMIT]") {
			t.Errorf("third session: %s", got)
		}
	}
	a.waitLog("ImapProxy_*.log", `user 'alice' from 127\.0\.0\.1:\d+ refused: 2 sessions across the fleet, MaxUserSessions 2`)
}

// The reasons of mmp_connections_refused_total come from admit, not
// from the refusal's text: TCPAccess and ConnLimits without a fleet.
func TestRefusalReasons(t *testing.T) {
	testenv.NeedLoopback(t, "127.0.0.37", "127.0.0.38")
	env := twostores.Start(t)
	a := startMMP(t, "", map[string]string{"imap": imapFile(env,
		"default:TCPAccess \"+imap:ALL EXCEPT 127.0.0.37$-imap:ALL\"\ndefault:ConnLimits \"127.0.0.38|255.255.255.255:1\"\n")})
	if g := dialFrom(t, "127.0.0.37", a.addr["imap"]).say(""); !strings.HasPrefix(g, "* BYE") {
		t.Errorf("TCPAccess: %q", g)
	}
	first := dialFrom(t, "127.0.0.38", a.addr["imap"])
	if g := first.say(""); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("first connection: %q", g)
	}
	if g := dialFrom(t, "127.0.0.38", a.addr["imap"]).say(""); !strings.HasPrefix(g, "* BYE") {
		t.Errorf("ConnLimits: %q", g)
	}
	m := a.metrics()
	for _, reason := range []string{"tcpaccess", "connlimits"} {
		if n := m[`mmp_connections_refused_total{reason="`+reason+`",service="imap"}`]; n != 1 {
			t.Errorf("%s refusals: %v, want 1", reason, n)
		}
	}
	if _, ok := m["mmp_fleet_up"]; ok {
		t.Error("mmp_fleet_up without FleetRedis")
	}
}
