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
//
// StartCluster runs a Redis Cluster of several masters, the slots shared
// among them, for keys that live on different servers:
//
//	cl := redis.StartCluster(t, 3)
//	cfg := "default:FleetRedis " + cl.URL() // redis-cluster://HOST:PORT,HOST:PORT,HOST:PORT
//	cl.NodeOf(t, key).Cli(t, "TYPE", key)   // the master holding key
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
	BusPort  int // the cluster bus; 0 outside a cluster

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

// clusterTimeout bounds the forming of a cluster: the gossip that makes
// every node know the others, and the two seconds a master waits after
// its start before it calls its cluster ok.
const clusterTimeout = 30 * time.Second

// Start runs redis-server on 127.0.0.1 and a free port; it is stopped when
// the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := startNode(t, c)
	if c.cluster {
		formCluster(t, []*Server{s})
	}
	return s
}

// startNode writes the configuration of one server, with cluster mode
// when c asks for it, and runs it until the test ends.
func startNode(t testing.TB, c config) *Server {
	t.Helper()
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
		// The bus port is chosen too: the default, the port plus 10000,
		// is past 65535 for a port above 55535, which FreePort can return.
		s.BusPort = testenv.FreePort(t)
		fmt.Fprintf(&b, "cluster-enabled yes\ncluster-config-file %s\ncluster-port %d\n", filepath.Join(dir, "nodes.conf"), s.BusPort)
	}
	if err := os.WriteFile(s.conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(s.Stop)
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

// Cluster is a Redis Cluster of masters only (no replicas), the slots
// shared evenly among them, so that keys live on different servers and a
// client must follow the cluster's map (and MOVED) to reach them.
type Cluster struct {
	Nodes []*Server
}

// StartCluster runs masters redis-servers in cluster mode on free
// loopback ports, gives each an even share of the 16384 slots, makes them
// meet, and waits until every node calls the cluster ok and knows all
// the others. The servers are stopped when the test ends. WithPassword
// applies to every node.
func StartCluster(t testing.TB, masters int, opts ...Option) *Cluster {
	t.Helper()
	if masters < 1 {
		t.Fatalf("redis cluster: %d masters", masters)
	}
	c := config{cluster: true}
	for _, o := range opts {
		o(&c)
	}
	cl := &Cluster{}
	for range masters {
		cl.Nodes = append(cl.Nodes, startNode(t, c))
	}
	formCluster(t, cl.Nodes)
	return cl
}

// slots is the number of hash slots of a Redis Cluster.
const slots = 16384

// formCluster shares the slots among nodes, introduces the first node to
// the others, and waits for the cluster to be ok on every node.
func formCluster(t testing.TB, nodes []*Server) {
	t.Helper()
	for i, s := range nodes {
		first, last := SlotRange(i, len(nodes))
		s.Cli(t, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(first), strconv.Itoa(last))
	}
	for _, s := range nodes[1:] {
		nodes[0].Cli(t, "CLUSTER", "MEET", s.Host, strconv.Itoa(s.Port), strconv.Itoa(s.BusPort))
	}
	want := map[string]string{"cluster_state": "ok", "cluster_known_nodes": strconv.Itoa(len(nodes)),
		"cluster_slots_assigned": strconv.Itoa(slots)}
	deadline := time.Now().Add(clusterTimeout)
	for {
		var missing []string
		for _, s := range nodes {
			info, err := s.do("CLUSTER", "INFO")
			if err != nil {
				missing = append(missing, fmt.Sprintf("%s: CLUSTER INFO: %v", s.Addr(), err))
				continue
			}
			fields := infoFields(info)
			for _, k := range []string{"cluster_state", "cluster_known_nodes", "cluster_slots_assigned"} {
				if fields[k] != want[k] {
					missing = append(missing, fmt.Sprintf("%s: %s:%s, want %s", s.Addr(), k, fields[k], want[k]))
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis cluster of %d: not formed after %v:\n\t%s\n%s", len(nodes), clusterTimeout,
				strings.Join(missing, "\n\t"), testenv.Tail(nodes[0].log, 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SlotRange is the first and last slot of node i of n, as StartCluster
// assigns them.
func SlotRange(i, n int) (first, last int) {
	return i * slots / n, (i+1)*slots/n - 1
}

// infoFields parses the "name:value" lines of an INFO reply.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// Addrs are the nodes' host:port.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range c.Nodes {
		out = append(out, s.Addr())
	}
	return out
}

// URL is the FleetRedis value that names every node as a seed, with the
// password.
func (c *Cluster) URL() string {
	auth := ""
	if pw := c.Nodes[0].Password; pw != "" {
		auth = ":" + url.PathEscape(pw) + "@"
	}
	return "redis-cluster://" + auth + strings.Join(c.Addrs(), ",")
}

// NodeOf is the node that holds key's slot (CLUSTER KEYSLOT asked of the
// first node), for tests that must know where a key lives.
func (c *Cluster) NodeOf(t testing.TB, key string) *Server {
	t.Helper()
	slot, err := strconv.Atoi(c.Nodes[0].Cli(t, "CLUSTER", "KEYSLOT", key))
	if err != nil {
		t.Fatalf("redis cluster: KEYSLOT %s: %v", key, err)
	}
	for i, s := range c.Nodes {
		if first, last := SlotRange(i, len(c.Nodes)); slot >= first && slot <= last {
			return s
		}
	}
	t.Fatalf("redis cluster: slot %d of %s is nobody's", slot, key)
	return nil
}

// Stop ends every node.
func (c *Cluster) Stop() {
	for _, s := range c.Nodes {
		s.Stop()
	}
}
