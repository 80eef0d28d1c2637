// Package testcert makes throwaway certificates for tests: a CA, a server
// certificate for localhost, 127.0.0.1 and ::1 (plus any names asked for),
// and a client certificate, all signed by the CA and written as PEM files
// into a temporary directory. Nothing here is fit for production.
package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Set is one CA with its server and client certificates.
type Set struct {
	Dir string // where the files are

	CAFile         string // the CA certificate (PEM)
	CertFile       string // the server certificate (PEM)
	KeyFile        string // its key, unencrypted (PKCS#8 PEM)
	ClientCertFile string // the client certificate (PEM)
	ClientKeyFile  string // its key

	CA        *x509.Certificate
	Pool      *x509.CertPool // containing the CA only
	Server    tls.Certificate
	Client    tls.Certificate
	caKey     crypto.Signer
	serverKey *ecdsa.PrivateKey
}

// New makes a set in t.TempDir(). hosts are added to the server
// certificate's names (DNS names or IP addresses).
func New(t testing.TB, hosts ...string) *Set {
	t.Helper()
	s, err := Make(t.TempDir(), "openmmp test", hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

var serial int64 = time.Now().UnixNano()

func template(cn string) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"openmmp tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
}

// Make writes a set into dir; name is the CA's common name.
func Make(dir, name string, hosts ...string) (*Set, error) {
	s := &Set{Dir: dir}
	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	ca := template(name + " CA")
	ca.IsCA, ca.BasicConstraintsValid = true, true
	ca.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	s.CA, _ = x509.ParseCertificate(caDER)
	s.caKey = caKey
	s.Pool = x509.NewCertPool()
	s.Pool.AddCert(s.CA)
	s.CAFile = filepath.Join(dir, "ca.crt")
	if err := writePEM(s.CAFile, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}

	srv := template("localhost")
	srv.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	srv.KeyUsage = x509.KeyUsageDigitalSignature
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		if ip := net.ParseIP(h); ip != nil {
			srv.IPAddresses = append(srv.IPAddresses, ip)
		} else {
			srv.DNSNames = append(srv.DNSNames, h)
		}
	}
	if s.Server, s.CertFile, s.KeyFile, err = s.issue(srv, "server"); err != nil {
		return nil, err
	}
	s.serverKey = s.Server.PrivateKey.(*ecdsa.PrivateKey)

	cl := template("alice")
	cl.Subject.OrganizationalUnit = []string{"alice"}
	cl.EmailAddresses = []string{"alice@example.com"}
	cl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	cl.KeyUsage = x509.KeyUsageDigitalSignature
	if s.Client, s.ClientCertFile, s.ClientKeyFile, err = s.issue(cl, "client"); err != nil {
		return nil, err
	}
	return s, nil
}

// Issue signs another server certificate for hosts with the set's CA and
// writes it as <name>.crt and <name>.key. The first host is the common
// name.
func (s *Set) Issue(name string, hosts ...string) (certFile, keyFile string, err error) {
	tpl := template(hosts[0])
	tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tpl.KeyUsage = x509.KeyUsageDigitalSignature
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	_, certFile, keyFile, err = s.issue(tpl, name)
	return certFile, keyFile, err
}

func (s *Set) issue(tpl *x509.Certificate, name string) (tls.Certificate, string, string, error) {
	key, err := newKey()
	if err != nil {
		return tls.Certificate{}, "", "", err
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, s.CA, &key.PublicKey, s.caKey)
	if err != nil {
		return tls.Certificate{}, "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, "", "", err
	}
	certFile := filepath.Join(s.Dir, name+".crt")
	keyFile := filepath.Join(s.Dir, name+".key")
	if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
		return tls.Certificate{}, "", "", err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER); err != nil {
		return tls.Certificate{}, "", "", err
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certFile, keyFile, nil
}

// EncryptedKey writes the server key encrypted with password in the
// legacy OpenSSL form ("Proc-Type: 4,ENCRYPTED", AES-256-CBC), as
// `openssl ec -aes256` writes it, and returns the file name.
func (s *Set) EncryptedKey(t testing.TB, password string) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(s.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 the legacy format is what old installations have
	blk, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", der, []byte(password), x509.PEMCipherAES256) //nolint:staticcheck
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(s.Dir, "server-encrypted.key")
	if err := os.WriteFile(name, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// ClientConfig is a TLS client configuration trusting the set's CA, for
// serverName.
func (s *Set) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: s.Pool, ServerName: serverName}
}

func writePEM(name, typ string, der []byte) error {
	return os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
