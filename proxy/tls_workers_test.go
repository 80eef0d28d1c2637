package proxy_test

import (
	"crypto/tls"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
	"github.com/openmmp/mmp/tlsconf"
)

// stallAfterHello is a client connection that sends its first flight
// (the ClientHello) and then never another octet: its next write blocks
// until the test ends.
type stallAfterHello struct {
	net.Conn
	writes int
	stop   chan struct{}
}

func (c *stallAfterHello) Write(b []byte) (int, error) {
	c.writes++
	if c.writes > 1 {
		<-c.stop
		return 0, net.ErrClosed
	}
	return c.Conn.Write(b)
}

// The attack: with NumThreads 1 (proxy.Workers), clients that open the
// SSL port and say nothing, or send a ClientHello (TLS 1.3, or TLS 1.2
// only) and then stall, must not hold the worker while they wait: a
// TLS handshake takes its slot for the server's computation only, from
// the complete ClientHello to the server's flight. Before, each held it
// for up to HandshakeTimeout (30 s), and with it every other handshake
// and every directory operation of the process.
func TestStalledHandshakesHoldNoWorker(t *testing.T) {
	cs := testcert.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	svc := proxytest.Service(t, map[string]string{"SSLEnable": "yes", "SSLCertPEM": cs.CertFile, "SSLKeyPEM": cs.KeyFile,
		"SSLPorts": "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), "BGExcluded": "127.0.0.0/8"}, "")
	tc, err := tlsconf.Load(svc.Values, tlsconf.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: &linkProto{store: echoStore(t)}, TLS: tc, Workers: proxy.NewWorkers(1)})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	// Two that say nothing.
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// Two that stall after their ClientHello, one of them TLS 1.2 only
	// (where the server's key exchange waits for the client's).
	for _, maxVersion := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		cfg := cs.ClientConfig("localhost")
		cfg.MaxVersion = maxVersion
		stalled := tls.Client(&stallAfterHello{Conn: raw, stop: stop}, cfg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			stalled.Handshake() // returns when the test ends
		}()
	}
	time.Sleep(200 * time.Millisecond) // they have sent what they send

	// A real client still gets through at once, not after the stalled
	// ones time out.
	done := make(chan error, 1)
	go func() {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Client(c, cs.ClientConfig("localhost"))
		done <- tc.Handshake()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("handshake behind stalled clients: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("handshake behind stalled clients did not finish in 15 s: they hold the worker (HandshakeTimeout is 30 s)")
	}
}
