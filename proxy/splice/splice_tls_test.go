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
	"testing"
	"time"

	"github.com/openmmp/mmp/proxy/proxytest"
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
	rawC, rawP := proxytest.TCPPair(t)
	ps, s := proxytest.TCPPair(t)
	cert := selfSigned(t)
	srvTLS := tls.Server(rawP, &tls.Config{Certificates: []tls.Certificate{cert}})
	cliTLS := tls.Client(rawC, &tls.Config{InsecureSkipVerify: true})
	errc := make(chan error, 1)
	go func() { errc <- srvTLS.Handshake() }()
	if err := cliTLS.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	done := start(t, srvTLS, ps, time.Minute, nil, nil)

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
