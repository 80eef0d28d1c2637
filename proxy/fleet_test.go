package proxy_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/internal/testenv/redis"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// Two servers of one service, each with its own fleet client on one
// Redis, as two MMPs: ConnLimits counts both, and a failure on one is the
// other's penalty. (The daemon tests run the same with two processes;
// this one runs the session code under the race detector.)
func TestFleetAcrossServers(t *testing.T) {
	r := redis.Start(t)
	u, _ := cfgfmt.ParseRedisURL(r.URL())
	settings := map[string]string{"ConnLimits": "127.0.0.1|255.255.255.255:2", "BGPenalty": "1", "AuthFailureDelay": "0"}
	var addrs []string
	for range 2 {
		fl, err := fleet.Open(fleet.Config{URL: u, CallTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fl.Close() })
		srv := proxy.NewServer(proxy.Options{Service: proxytest.ServiceOf(t, "ImapProxyAService", settings, ""),
			Protocol: imapproxy.New(imapproxy.Options{Host: "mmp"}), Directory: &proxytest.Directory{}, Fleet: fl})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		addrs = append(addrs, ln.Addr().String())
	}
	dial := func(addr string) (net.Conn, *bufio.Reader, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(15 * time.Second))
		br := bufio.NewReader(c)
		l, _ := br.ReadString('\n')
		return c, br, l
	}
	held, br, g := dial(addrs[0])
	if !strings.HasPrefix(g, "* OK") {
		t.Fatal(g)
	}
	if _, _, g := dial(addrs[1]); !strings.HasPrefix(g, "* OK") {
		t.Fatal(g)
	}
	for _, a := range addrs {
		if _, _, g := dial(a); !strings.HasPrefix(g, "* BYE") {
			t.Errorf("third connection: %q", g)
		}
	}
	held.Write([]byte("a LOGIN nobody secret\r\n"))
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "a NO") {
		t.Fatalf("login: %q", l)
	}
	if v := r.Cli(t, "GET", "mmp:{imap:127.0.0.1}:bg"); v != "1000" {
		t.Errorf("penalty in Redis %q, want 1000 ms", v)
	}
}
