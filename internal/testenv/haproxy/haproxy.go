// Package haproxy starts a real HAProxy (Debian package haproxy) on
// loopback for tests: one TCP frontend that balances over the given
// backends and sends each the PROXY protocol header (send-proxy-v2 or
// send-proxy), as a site that puts several MMPs behind a load balancer
// configures it. The configuration is private to the test and the process
// is stopped at its end.
//
// Typical usage:
//
//	lb := haproxy.Start(t, []string{mmp1, mmp2}, haproxy.WithProxyV1())
//	c := dial(lb.Addr(), from 127.0.0.5)
package haproxy

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// Server is a running HAProxy.
type Server struct {
	Host string
	Port int
	proc *testenv.Process
	log  string
}

type config struct {
	sendProxy string
}

// Option configures Start.
type Option func(*config)

// WithProxyV1 sends the text header (send-proxy) instead of version 2.
func WithProxyV1() Option { return func(c *config) { c.sendProxy = "send-proxy" } }

// Start runs HAProxy in front of backends (host:port), round robin, each
// sent the PROXY header. It runs one thread, so that the round robin
// follows the order of the connections (with a thread per core, two
// connections accepted at once by two threads may take their turns in
// either order, and on a loaded machine two logins landed on one MMP).
func Start(t testing.TB, backends []string, opts ...Option) *Server {
	t.Helper()
	bin := testenv.Binary(t, "haproxy")
	c := config{sendProxy: "send-proxy-v2"}
	for _, o := range opts {
		o(&c)
	}
	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", Port: testenv.FreePort(t), log: filepath.Join(dir, "haproxy.log")}
	var b strings.Builder
	fmt.Fprintf(&b, `global
  maxconn 1000
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend mail
  bind %s:%d
  default_backend mmps
backend mmps
  balance roundrobin
`, s.Host, s.Port)
	for i, be := range backends {
		fmt.Fprintf(&b, "  server mmp%d %s %s\n", i+1, be, c.sendProxy)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartProcess(s.log, bin, "-db", "-f", cfg)
	if err != nil {
		t.Fatalf("haproxy: %v", err)
	}
	s.proc = p
	t.Cleanup(func() { p.Stop(syscall.SIGTERM, 5*time.Second) })
	testenv.WaitListening(t, s.Addr(), 10*time.Second)
	return s
}

// Addr is the frontend's address.
func (s *Server) Addr() string { return s.Host + ":" + strconv.Itoa(s.Port) }

// Log is what HAProxy wrote.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}
