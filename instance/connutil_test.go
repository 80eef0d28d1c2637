package instance_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/instance"
	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/redis"
	"github.com/openmmp/mmp/internal/testenv/twostores"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// mmpInstance is one instance under a root, started by start-msg.
type mmpInstance struct {
	name, dir         string
	imapAddr, popAddr string
	pid               int
}

// startInstances writes and starts one instance per name under root, each
// with an IMAP and a POP service in front of env's stores; extra is added
// to every AService.cfg.
func startInstances(t *testing.T, env *twostores.Env, root, extra string, names ...string) []*mmpInstance {
	t.Helper()
	becomeSubreaper(t)
	var out []*mmpInstance
	for _, name := range names {
		in := &mmpInstance{name: name, dir: filepath.Join(root, name),
			imapAddr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
			popAddr:  fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
		if err := os.MkdirAll(in.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ldap := fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\ndefault:BGExcluded 127.0.0.0/8\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass)
		writeFiles(t, in.dir, map[string]string{
			"AService.cfg": "default:ServiceList ImapProxyAService@" + in.imapAddr + " PopProxyAService@" + in.popAddr + "\n" +
				"default:LogDir log\ndefault:LogLevel 6\n" + extra,
			"ImapProxyAService.cfg": ldap + fmt.Sprintf("default:BacksidePort %d\n", env.IMAPPort),
			"PopProxyAService.cfg":  ldap + fmt.Sprintf("default:BacksidePort %d\n", env.POP3Port),
		})
		code, o, e := command(t, "start-msg", "--root", root, "mmp", name)
		if code != instance.ExitOK {
			t.Fatalf("start-msg %s: exit %d\n%s%s", name, code, o, e)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(o))
		if err != nil {
			t.Fatalf("start-msg printed %q, want a pid", o)
		}
		in.pid = pid
		t.Cleanup(func() {
			if syscall.Kill(pid, 0) == nil {
				syscall.Kill(pid, syscall.SIGKILL)
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
			}
			if t.Failed() {
				logs, _ := filepath.Glob(filepath.Join(in.dir, "log", "*"))
				for _, f := range logs {
					t.Logf("%s:\n%s", f, testenv.Tail(f, 3000))
				}
			}
		})
		out = append(out, in)
	}
	return out
}

// connutil runs imsconnutil in-process.
func connutil(t *testing.T, root string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = instance.ConnUtilIO(append([]string{"--root", root}, args...), instance.IO{Out: &o, Err: &e})
	return code, o.String(), e.String()
}

// row is one line of imsconnutil -c.
type row struct {
	user, service, client, store, since string
	fromClient, fromStore               int64
	mmp                                 string
}

// sessions runs imsconnutil -c with args and parses its lines.
func sessions(t *testing.T, root string, args ...string) []row {
	t.Helper()
	code, out, errOut := connutil(t, root, append([]string{"-c"}, args...)...)
	if code != instance.ConnExitOK {
		t.Fatalf("imsconnutil -c %v: exit %d\n%s%s", args, code, out, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "UID ") || !strings.Contains(lines[0], "FROM-STORE") {
		t.Fatalf("imsconnutil -c: header %q", lines[0])
	}
	var rows []row
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 9 {
			t.Fatalf("imsconnutil -c: line %q", l)
		}
		r := row{user: f[0], service: f[1], client: f[2], store: f[3], since: f[4] + " " + f[5], mmp: f[8]}
		r.fromClient, _ = strconv.ParseInt(f[6], 10, 64)
		r.fromStore, _ = strconv.ParseInt(f[7], 10, 64)
		rows = append(rows, r)
	}
	return rows
}

func find(rows []row, user, service, mmpName string) *row {
	for i, r := range rows {
		if r.user == user && r.service == service && strings.Contains(r.mmp, "/"+mmpName+"[") {
			return &rows[i]
		}
	}
	return nil
}

// imapLogin logs user in through addr.
func imapLogin(t *testing.T, addr string, a twostores.Account) *proxytest.Client {
	t.Helper()
	cl := proxytest.Dial(t, addr, "")
	cl.ExpectPrefix("* OK")
	cl.Send("a LOGIN " + a.UID + " " + a.Password + "\r\n")
	for l := cl.Line(); !strings.HasPrefix(l, "a "); l = cl.Line() {
	}
	return cl
}

func popLogin(t *testing.T, addr string, a twostores.Account) *proxytest.Client {
	t.Helper()
	cl := proxytest.Dial(t, addr, "")
	cl.ExpectPrefix("+OK")
	cl.Do("USER "+a.UID, "+OK")
	cl.Send("PASS " + a.Password + "\r\n")
	cl.ExpectPrefix("+OK")
	return cl
}

// imsconnutil on two AService processes of one machine: -c lists the
// sessions of both with user, service, store and growing byte counts, -s
// filters, -k ends a user's sessions on both (IMAP reads * BYE), -a has
// the last login and logout, and with no MMP running it says so.
func TestConnUtilLocal(t *testing.T) {
	env := twostores.Start(t)
	root := t.TempDir()
	mmps := startInstances(t, env, root, "", "east", "west")
	connUtilScenario(t, env, root, mmps, nil)
}

// The same through the fleet's Redis (FleetRedis set): the MMPs register
// their sessions there, a kick goes out on a channel, and an MMP that is
// killed has its sessions vanish with its lease.
func TestConnUtilFleet(t *testing.T) {
	env := twostores.Start(t)
	r := redis.Start(t)
	root := t.TempDir()
	mmps := startInstances(t, env, root, "default:FleetRedis "+r.URL()+"\ndefault:FleetLeaseTime 3\n", "east", "west")
	connUtilScenario(t, env, root, mmps, r)
}

func connUtilScenario(t *testing.T, env *twostores.Env, root string, mmps []*mmpInstance, r *redis.Server) {
	viaFleet := r != nil
	east, west := mmps[0], mmps[1]
	alice, bob := twostores.User("alice"), twostores.User("bob")

	a1 := imapLogin(t, east.imapAddr, alice)
	a2 := imapLogin(t, west.imapAddr, alice)
	b := popLogin(t, west.popAddr, bob)

	storeOf := func(a twostores.Account, port int) string { return fmt.Sprintf("%s:%d", a.MailHost, port) }
	// Through Redis the logins arrive a moment after the clients' OK.
	var rows []row
	proxytest.Settle(10*time.Second, func() bool {
		rows = sessions(t, root)
		return len(rows) == 3
	})
	if len(rows) != 3 {
		t.Fatalf("imsconnutil -c: %d sessions, want 3: %+v", len(rows), rows)
	}
	if viaFleet {
		// The answer came from Redis: both MMPs are registered there.
		if got := r.Cli(t, "SCARD", "mmp:who:mmps"); strings.TrimSpace(got) != "2" {
			t.Errorf("SCARD mmp:who:mmps = %q, want 2", got)
		}
		if got := r.Cli(t, "PUBSUB", "NUMSUB", "mmp:who:kick"); !strings.Contains(got, "2") {
			t.Errorf("PUBSUB NUMSUB mmp:who:kick = %q, want 2 subscribers", got)
		}
	}
	for _, want := range []struct {
		user, service string
		mmp           *mmpInstance
		store         string
		client        *proxytest.Client
	}{
		{"alice", "imap", east, storeOf(alice, env.IMAPPort), a1},
		{"alice", "imap", west, storeOf(alice, env.IMAPPort), a2},
		{"bob", "pop", west, storeOf(bob, env.POP3Port), b},
	} {
		r := find(rows, want.user, want.service, want.mmp.name)
		switch {
		case r == nil:
			t.Errorf("no %s session of %s on %s: %+v", want.service, want.user, want.mmp.name, rows)
		case r.store != want.store || r.client != want.client.Conn.LocalAddr().String():
			t.Errorf("%s on %s: store %s client %s, want %s and %s", want.user, want.mmp.name, r.store, r.client, want.store, want.client.Conn.LocalAddr())
		case !strings.HasSuffix(r.mmp, "["+strconv.Itoa(want.mmp.pid)+"]"):
			t.Errorf("%s on %s: MMP %s, want pid %d", want.user, want.mmp.name, r.mmp, want.mmp.pid)
		}
	}
	// The counts grow with the session.
	before := find(rows, "alice", "imap", "east")
	a1.Send("b SELECT INBOX\r\n")
	for l := a1.Line(); !strings.HasPrefix(l, "b "); l = a1.Line() {
	}
	// The counts are read as the pipe goes, a moment after the client has
	// the octets.
	var after *row
	proxytest.Settle(5*time.Second, func() bool {
		after = find(sessions(t, root, "-u", "alice"), "alice", "imap", "east")
		return after != nil && after.fromClient > before.fromClient && after.fromStore > before.fromStore
	})
	if after == nil || after.fromClient <= before.fromClient || after.fromStore <= before.fromStore {
		t.Errorf("counts after SELECT: %+v, before %+v; want both grown", after, before)
	}
	// -s pop: bob alone.
	if rows := sessions(t, root, "-s", "pop"); len(rows) != 1 || rows[0].user != "bob" {
		t.Errorf("imsconnutil -c -s pop: %+v, want bob's session alone", rows)
	}

	// -k -u alice: both of her sessions end, each IMAP client reads BYE.
	kickAt := time.Now()
	code, out, errOut := connutil(t, root, "-k", "-u", "alice")
	if code != instance.ConnExitOK || strings.Count(out, "\nalice ") != 2 {
		t.Fatalf("imsconnutil -k -u alice: exit %d\n%s%s", code, out, errOut)
	}
	for _, cl := range []*proxytest.Client{a1, a2} {
		cl.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, err := io.ReadAll(cl.R)
		if err != nil || string(rest) != "* BYE Disconnected by the administrator\r\n" {
			t.Errorf("kicked IMAP client read %q, %v; want * BYE and the end", rest, err)
		}
	}
	t.Logf("imsconnutil -k -u alice: both IMAP clients had * BYE and the close %v after it started", time.Since(kickAt).Round(time.Millisecond))
	var left []row
	proxytest.Settle(5*time.Second, func() bool {
		left = sessions(t, root)
		return len(left) == 1
	})
	if len(left) != 1 || left[0].user != "bob" {
		t.Errorf("after the kick: %+v, want bob's session alone", left)
	}
	b.Do("NOOP", "+OK")

	// -a: alice logged in and out of IMAP, bob is logged in to POP.
	code, out, errOut = connutil(t, root, "-a")
	if code != instance.ConnExitOK {
		t.Fatalf("imsconnutil -a: exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "UID ") {
		t.Fatalf("imsconnutil -a:\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[0] != "alice" || f[1] != "imap" || len(f) != 6 {
		t.Errorf("imsconnutil -a: %q, want alice's IMAP login and logout", lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != "bob" || f[1] != "pop" || len(f) != 5 || f[4] != "-" {
		t.Errorf("imsconnutil -a: %q, want bob's POP login and no logout", lines[2])
	}

	if viaFleet {
		// A killed MMP's sessions vanish with its lease (FleetLeaseTime 3).
		syscall.Kill(west.pid, syscall.SIGKILL)
		proxytest.Settle(15*time.Second, func() bool {
			_, out, _ := connutil(t, root, "-c")
			return !strings.Contains(out, "bob ")
		})
		if _, out, _ := connutil(t, root, "-c"); strings.Contains(out, "bob ") {
			t.Errorf("bob's session on the killed MMP still listed:\n%s", out)
		}
		mmps = mmps[:1]
		// Redis gone: the MMPs of this machine answer, and it is said.
		r.Stop()
		code, out, errOut := connutil(t, root, "-c", "-u", "bob")
		if code != instance.ConnExitPartial || !strings.Contains(errOut, "answering for the MMPs of this machine only") || !strings.HasPrefix(out, "UID ") {
			t.Errorf("imsconnutil -c with Redis down: exit %d, %q %q; want %d, the header and why", code, out, errOut, instance.ConnExitPartial)
		}
	}

	// No MMP running: a clear error.
	if !viaFleet {
		b.Send("QUIT\r\n")
		b.ExpectPrefix("+OK")
	}
	b.Conn.Close()
	for _, m := range mmps {
		if code, o, e := command(t, "stop-msg", "--root", root, "--wait", "60s", "mmp", m.name); code != instance.ExitOK {
			t.Fatalf("stop-msg %s: exit %d\n%s%s", m.name, code, o, e)
		}
	}
	code, out, errOut = connutil(t, root, "-c")
	if code != instance.ConnExitNoMMP || !strings.Contains(errOut, "no MMP answers") {
		t.Errorf("imsconnutil -c with no MMP: exit %d, %q %q; want %d and \"no MMP answers\"", code, out, errOut, instance.ConnExitNoMMP)
	}
}
