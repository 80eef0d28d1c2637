package splice_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/openmmp/mmp/proxy/proxytest"
	. "github.com/openmmp/mmp/proxy/splice"
)

// selfSigned returns a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mmp test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A TLS client side (implicit SSL ports and STARTTLS, later) is copied
// through pooled buffers while waiting on its socket; records the TLS
// layer has already read must not wait for more data to arrive.
func TestSpliceTLSClient(t *testing.T) {
	cliTLS, s, _, done := tlsSession(t, nil)

	// Many small records in one burst: the proxy's TLS layer reads several
	// at once from the socket, and every one must come out at once.
	var want bytes.Buffer
	for i := range 50 {
		rec := bytes.Repeat([]byte{byte('a' + i%26)}, 10+i)
		want.Write(rec)
		if _, err := cliTLS.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, want.Len())
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("store got %d octets, %q... (%v); want the %d sent", len(got), got[:min(len(got), 40)], err, want.Len())
	}
	// And the other way, a large reply.
	big := bytes.Repeat([]byte("0123456789"), 300000)
	go s.Write(big)
	back := make([]byte, len(big))
	cliTLS.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cliTLS, back); err != nil || !bytes.Equal(back, big) {
		t.Fatalf("client got %d octets (%v), want %d", len(back), err, len(big))
	}
	cliTLS.CloseWrite()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(s); err != nil || len(rest) != 0 {
		t.Errorf("store: after the client's close_notify read %q, %v; want end of stream", rest, err)
	}
	s.Close()
	r := wait(t, done, 5*time.Second)
	if r.FromClient != int64(want.Len()) || r.FromStore != int64(len(big)) {
		t.Errorf("Splice counted %d/%d, want %d/%d", r.FromClient, r.FromStore, want.Len(), len(big))
	}
}

// tlsSession is a pipe whose client side is TLS, as after an implicit
// SSL port or STARTTLS: the client's end, the store's end and the pipe.
func tlsSession(t *testing.T, fromStore []byte) (cli *tls.Conn, s *net.TCPConn, pipe Pipe, done <-chan Result) {
	t.Helper()
	rawC, rawP := proxytest.TCPPair(t)
	ps, s := proxytest.TCPPair(t)
	cert := selfSigned(t)
	srvTLS := tls.Server(rawP, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli = tls.Client(rawC, &tls.Config{InsecureSkipVerify: true})
	errc := make(chan error, 1)
	go func() { errc <- srvTLS.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	ch := make(chan Result, 1)
	pipe = Start(srvTLS, ps, time.Minute, nil, fromStore, func(r Result) { ch <- r })
	t.Cleanup(func() { pipe.Stop(); cli.Close(); s.Close() })
	return cli, s, pipe, ch
}

// exchange sends a command from the TLS client and a reply from the store.
func exchange(t *testing.T, cli *tls.Conn, s *net.TCPConn, cmd, reply string) {
	t.Helper()
	io.WriteString(cli, cmd)
	buf := make([]byte, len(cmd))
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != cmd {
		t.Fatalf("store read %q, %v; want %q", buf, err, cmd)
	}
	io.WriteString(s, reply)
	buf = make([]byte, len(reply))
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cli, buf); err != nil || string(buf) != reply {
		t.Fatalf("client read %q, %v; want %q", buf, err, reply)
	}
}

// An idle session with a TLS client holds no goroutine, as a clear-text
// one: both directions park in the poller (the client's on its socket,
// once the TLS layer holds nothing decoded), and wake for what follows,
// a burst of small records included.
func TestSpliceTLSIdleParks(t *testing.T) {
	const n = 10
	base := goroutineBaseline()
	type sess struct {
		cli  *tls.Conn
		s    *net.TCPConn
		done <-chan Result
	}
	var ss []sess
	for range n {
		cli, s, _, done := tlsSession(t, nil)
		exchange(t, cli, s, "a NOOP\r\n", "a OK\r\n")
		ss = append(ss, sess{cli, s, done})
	}
	var got int
	if !proxytest.Settle(5*time.Second, func() bool { got = runtime.NumGoroutine() - base; return got <= 0 }) {
		t.Fatalf("%d idle TLS sessions hold %d goroutines, want none", n, got)
	}
	for _, x := range ss {
		exchange(t, x.cli, x.s, "b NOOP\r\n", "b OK\r\n")
	}
	// A burst of records to a parked direction.
	proxytest.Settle(5*time.Second, func() bool { return runtime.NumGoroutine()-base <= 0 })
	x := ss[0]
	var want bytes.Buffer
	for i := range 50 {
		rec := bytes.Repeat([]byte{byte('a' + i%26)}, 10+i)
		want.Write(rec)
		x.cli.Write(rec)
	}
	buf := make([]byte, want.Len())
	x.s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(x.s, buf); err != nil || !bytes.Equal(buf, want.Bytes()) {
		t.Fatalf("store got %q (%v), want the %d octets sent", buf[:min(len(buf), 40)], err, want.Len())
	}
	for _, x := range ss {
		x.cli.Close()
		x.s.Close()
		wait(t, x.done, 5*time.Second)
	}
}

// End reaches a parked TLS session: the client reads the goodbye over TLS.
func TestSpliceEndTLSParked(t *testing.T) {
	base := goroutineBaseline()
	cli, s, pipe, done := tlsSession(t, nil)
	exchange(t, cli, s, "a NOOP\r\n", "a OK\r\n")
	var got int
	if !proxytest.Settle(5*time.Second, func() bool { got = runtime.NumGoroutine() - base; return got <= 0 }) {
		t.Fatalf("the idle TLS session holds %d goroutines, want none", got)
	}
	rest, _ := kick(t, pipe, done, cli)
	if want := "* BYE Disconnected by the administrator\r\n"; string(rest) != want {
		t.Errorf("TLS client read %q after the exchange, want %q", rest, want)
	}
}
