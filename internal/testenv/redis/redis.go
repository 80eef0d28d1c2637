// Package redis starts a private redis-server (Debian package
// redis-server; Valkey's valkey-server is used where Redis is missing) on
// loopback for tests of the fleet's shared state: its own configuration
// and working directory in t.TempDir(), no persistence, a port allocated at
// run time, and a log that tests can read.
//
// Stop and Restart keep the port, like the slapd fixture, so that a test
// can take Redis away from running MMPs and bring it back: an outage and a
// recovery. Restart starts with an empty data set (no persistence), as a
// Redis that crashed without saving does.
//
// Typical usage:
//
//	r := redis.Start(t)                     // or redis.Start(t, redis.WithPassword("pw"))
//	cfg := "default:FleetRedis " + r.URL()  // redis://:pw@127.0.0.1:PORT
//	r.Stop()                                // outage
//	r.Restart(t)                            // recovery, same port
//	r.Cli(t, "KEYS", "*")                   // look inside
package redis

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// Server is a running (or stopped) redis-server.
type Server struct {
	Host     string
	Port     int
	Password string // "" for none
	Dir      string

	bin, conf, log string
	proc           *testenv.Process
}

type config struct {
	password string
	cluster  bool
}

// Option configures Start.
type Option func(*config)

// WithCluster starts the server as a Redis Cluster of one node holding
// every slot, for the cluster form of FleetRedis.
func WithCluster() Option { return func(c *config) { c.cluster = true } }

// WithPassword makes the server ask for a password (requirepass).
func WithPassword(pw string) Option { return func(c *config) { c.password = pw } }

const startTimeout = 10 * time.Second

// Start runs redis-server on 127.0.0.1 and a free port; it is stopped when
// the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	bin, err := testenv.LookPath("redis-server")
	if err != nil {
		if b, err2 := testenv.LookPath("valkey-server"); err2 == nil {
			bin = b
		} else {
			testenv.Need(t, "redis-server")
		}
	}
	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", Port: testenv.FreePort(t), Password: c.password, Dir: dir, bin: bin,
		conf: filepath.Join(dir, "redis.conf"), log: filepath.Join(dir, "redis.log")}
	var b strings.Builder
	fmt.Fprintf(&b, "bind %s\nport %d\ndir %s\nsave \"\"\nappendonly no\ndaemonize no\nprotected-mode no\n", s.Host, s.Port, dir)
	fmt.Fprintf(&b, "logfile \"\"\nloglevel notice\ndatabases 4\nmaxclients 1000\n")
	if c.password != "" {
		fmt.Fprintf(&b, "requirepass %s\n", c.password)
	}
	if c.cluster {
		fmt.Fprintf(&b, "cluster-enabled yes\ncluster-config-file %s\n", filepath.Join(dir, "nodes.conf"))
	}
	if err := os.WriteFile(s.conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(s.Stop)
	if c.cluster {
		s.Cli(t, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
		deadline := time.Now().Add(startTimeout)
		for !strings.Contains(s.Cli(t, "CLUSTER", "INFO"), "cluster_state:ok") {
			if time.Now().After(deadline) {
				t.Fatalf("redis cluster: not ok: %s", s.Cli(t, "CLUSTER", "INFO"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	p, err := testenv.StartProcess(s.log, s.bin, s.conf)
	if err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	s.proc = p
	if err := p.WaitListening(s.Addr(), startTimeout); err != nil {
		s.Stop()
		t.Fatalf("redis-server: %v\n%s", err, testenv.Tail(s.log, 4000))
	}
	// Listening is not yet answering: wait for a PONG.
	deadline := time.Now().Add(startTimeout)
	for {
		if _, err := s.do("PING"); err == nil {
			return
		} else if time.Now().After(deadline) {
			s.Stop()
			t.Fatalf("redis-server: no PONG: %v\n%s", err, testenv.Tail(s.log, 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is the FleetRedis value that reaches the server, with its password.
func (s *Server) URL() string {
	if s.Password != "" {
		return "redis://:" + url.PathEscape(s.Password) + "@" + s.Addr()
	}
	return "redis://" + s.Addr()
}

// Stop ends the server at once (SIGKILL: nothing to save), keeping the
// port for Restart. Stop on a stopped server does nothing.
func (s *Server) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.Stop(syscall.SIGKILL, time.Second)
	s.proc = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	return s.proc.Running()
}

// Log is what the server wrote.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Cli runs one command and returns its reply as text: a simple or bulk
// string as it is, an integer in decimal, nil as "(nil)", an array as its
// elements one per line. It fails the test on an error reply.
func (s *Server) Cli(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.do(args...)
	if err != nil {
		t.Fatalf("redis %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// do sends one command in RESP and reads the reply, with the password
// first when there is one. The fixture speaks the protocol itself: the
// tests of package fleet must not depend on the client they test.
func (s *Server) do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if s.Password != "" {
		if _, err := c.Write(encode("AUTH", s.Password)); err != nil {
			return "", err
		}
		if _, err := readReply(br); err != nil {
			return "", err
		}
	}
	if _, err := c.Write(encode(args...)); err != nil {
		return "", err
	}
	return readReply(br)
}

func encode(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("%s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		var parts []string
		for range max(n, 0) {
			p, err := readReply(br)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// Pid is the server's process id (0 when stopped), for benchmarks that
// measure its CPU.
func (s *Server) Pid() int {
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// Sentinel is a running redis-server in Sentinel mode that monitors one
// Server under the master name "mymaster".
type Sentinel struct {
	Host string
	Port int
	proc *testenv.Process
}

// StartSentinel runs a Sentinel (redis-server --sentinel) for master on a
// free loopback port; it is stopped when the test ends.
func StartSentinel(t testing.TB, master *Server) *Sentinel {
	t.Helper()
	dir := t.TempDir()
	s := &Sentinel{Host: "127.0.0.1", Port: testenv.FreePort(t)}
	conf := filepath.Join(dir, "sentinel.conf")
	var b strings.Builder
	fmt.Fprintf(&b, "bind %s\nport %d\ndir %s\nprotected-mode no\nsentinel monitor mymaster %s %d 1\n",
		s.Host, s.Port, dir, master.Host, master.Port)
	if master.Password != "" {
		fmt.Fprintf(&b, "sentinel auth-pass mymaster %s\n", master.Password)
	}
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "sentinel.log")
	p, err := testenv.StartProcess(log, master.bin, conf, "--sentinel")
	if err != nil {
		t.Fatalf("redis sentinel: %v", err)
	}
	s.proc = p
	t.Cleanup(func() { p.Stop(syscall.SIGKILL, time.Second) })
	if err := p.WaitListening(s.Addr(), startTimeout); err != nil {
		t.Fatalf("redis sentinel: %v\n%s", err, testenv.Tail(log, 4000))
	}
	return s
}

// Addr is host:port.
func (s *Sentinel) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }
