package tlsconf_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
	"github.com/openmmp/mmp/tlsconf"
)

// modern is what replaces the insecure Netscape suites.
var modern = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// netscapeCiphers are the cipher specifications of the Netscape Messaging
// Server 4.x Administrator's Guide (Table 13.3, SSLCipherSpecs), all of
// them RC4, DES, 3DES, RC2, NULL or EXPORT.
var netscapeCiphers = []string{"SSL_RSA_WITH_RC4_128_MD5", "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA", "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
	"SSL_RSA_FIPS_WITH_DES_CBC_SHA", "SSL_RSA_WITH_DES_CBC_SHA", "SSL_RSA_EXPORT_WITH_RC4_40_MD5", "SSL_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
	"SSL_RSA_WITH_NULL_MD5"}

func TestCipherSuites(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    []uint16
		warning string // "" for none
		err     string
	}{
		{[]string{"all"}, nil, "", ""},
		{nil, nil, "", ""},
		{[]string{"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, "", ""},
		{[]string{"SSL_RSA_WITH_AES_128_CBC_SHA"}, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, "", ""},
		{[]string{"TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384"},
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, "", ""},
		// The Netscape list: accepted, each name dropped, the modern
		// suites named.
		{netscapeCiphers, modern, "SSLCipherSpecs: " + strings.Join(netscapeCiphers, ", ") + " are insecure (RC4, DES, 3DES, RC2, NULL, EXPORT or MD5) " +
			"and not offered; TLS 1.2 uses TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, " +
			"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, " +
			"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 instead (TLS 1.3 always uses its own suites)", ""},
		{[]string{"SSL_RSA_WITH_NULL_MD5"}, modern, "SSLCipherSpecs: SSL_RSA_WITH_NULL_MD5 is insecure (", ""},
		// With a secure suite in the list, the list still decides.
		{[]string{"SSL_RSA_WITH_RC4_128_MD5", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
			"SSLCipherSpecs: SSL_RSA_WITH_RC4_128_MD5 is insecure (RC4, DES, 3DES, RC2, NULL, EXPORT or MD5) and not offered; " +
				"TLS 1.2 uses TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 instead (TLS 1.3 always uses its own suites)", ""},
		{[]string{"SSL_FOO"}, nil, "", "SSLCipherSpecs: unknown cipher SSL_FOO"},
	} {
		got, warnings, err := tlsconf.CipherSuites(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("CipherSuites(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		switch w := strings.Join(warnings, "|"); {
		case tc.warning == "" && w != "", tc.warning != "" && !strings.HasPrefix(w, tc.warning), len(warnings) > 1:
			t.Errorf("CipherSuites(%v) warnings %q, want %q", tc.in, w, tc.warning)
		}
	}
}

// The seed's -s example with the Netscape cipher list: TLS works, with a
// modern suite, and the configuration carries the warning.
func TestNetscapeCiphersHandshake(t *testing.T) {
	cs := testcert.New(t)
	c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile},
		CipherSpecs: netscapeCiphers})
	if err != nil || c.Client == nil {
		t.Fatalf("Build with the Netscape ciphers: %v", err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "TLS 1.2 uses TLS_ECDHE_") {
		t.Errorf("Warnings = %q", c.Warnings)
	}
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	go tls.Server(sc, c.Client).Handshake()
	cl := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	if got := cl.ConnectionState().CipherSuite; !slices.Contains(modern, got) {
		t.Errorf("TLS 1.2 suite %s, want one of the modern ones", tls.CipherSuiteName(got))
	}
}

func TestServerConfig(t *testing.T) {
	cs := testcert.New(t)
	c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile},
		ClientCAPEM: cs.CAFile, CipherSpecs: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Client.MinVersion != tls.VersionTLS12 || c.Client.ClientAuth != tls.VerifyClientCertIfGiven || c.Client.ClientCAs == nil {
		t.Fatalf("config = %+v", c.Client)
	}
	if !c.StartTLS() || c.Store != nil {
		t.Fatalf("StartTLS %v, Store %v", c.StartTLS(), c.Store)
	}
	// SSLEnable off: no client config even with certificates.
	c, err = tlsconf.Build(tlsconf.Settings{CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile}})
	if err != nil || c.Client != nil || c.StartTLS() {
		t.Fatalf("SSLEnable no: %+v, %v", c, err)
	}
	// Errors name the parameter.
	for _, tc := range []struct {
		s    tlsconf.Settings
		want string
	}{
		{tlsconf.Settings{Enable: true}, "SSLCertPEM"},
		{tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}}, "SSLKeyPEM: 0 key files for 1"},
		{tlsconf.Settings{Enable: true, CertPEM: []string{"/nonexistent"}, KeyPEM: []string{cs.KeyFile}}, "SSLCertPEM: open /nonexistent"},
		{tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.ClientKeyFile}}, "private key does not match"},
		{tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{cs.KeyFile}, ClientCAPEM: cs.KeyFile}, "SSLClientCAPEM"},
	} {
		c, err := tlsconf.Build(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.s, err, tc.want)
		}
		if c == nil || c.Client != nil || c.Enable != tc.s.Enable {
			t.Errorf("on error the config must keep Enable and have no Client: %+v", c)
		}
	}
}

// TestSNI: with several certificates the client's server name chooses,
// and the first is the default.
func TestSNI(t *testing.T) {
	cs := testcert.New(t)
	otherCert, otherKey, err := cs.Issue("other", "mail.example.org")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile, otherCert}, KeyPEM: []string{cs.KeyFile, otherKey}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"mail.example.org": "mail.example.org", "localhost": "localhost", "": "localhost"} {
		cc, sc := net.Pipe()
		go tls.Server(sc, c.Client).Handshake()
		cl := tls.Client(cc, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err := cl.Handshake(); err != nil {
			t.Fatal(err)
		}
		if got := cl.ConnectionState().PeerCertificates[0].Subject.CommonName; got != want {
			t.Errorf("SNI %q: certificate %s, want %s", name, got, want)
		}
		cc.Close()
		sc.Close()
	}
}

// TestEncryptedKey: a legacy-encrypted key is opened with the password of
// the Internal (Software) Token line of sslpassword.conf.
func TestEncryptedKey(t *testing.T) {
	cs := testcert.New(t)
	key := cs.EncryptedKey(t, "netscape!")
	pwFile := filepath.Join(cs.Dir, "sslpassword.conf")
	os.WriteFile(pwFile, []byte("# tokens\nOther Token:x\nInternal (Software) Token:netscape!\n"), 0o600)
	s := tlsconf.Settings{Enable: true, CertPEM: []string{cs.CertFile}, KeyPEM: []string{key}, KeyPasswdFile: pwFile}
	if _, err := tlsconf.Build(s); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pwFile, []byte("Internal (Software) Token:wrong\n"), 0o600)
	if _, err := tlsconf.Build(s); err == nil || !strings.Contains(err.Error(), "does not open the key") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
	s.KeyPasswdFile = ""
	if _, err := tlsconf.Build(s); err == nil || !strings.Contains(err.Error(), "SSLKeyPasswdFile") {
		t.Fatalf("no password file: %v", err)
	}
	// Netscape's SSLKeyPasswd gives the password itself.
	s.KeyPasswd = "netscape!"
	if _, err := tlsconf.Build(s); err != nil {
		t.Fatalf("SSLKeyPasswd: %v", err)
	}
	s.KeyPasswd = ""
	// Encrypted PKCS#8 is refused with the conversion command.
	if _, err := exec.LookPath("openssl"); err == nil {
		p8 := filepath.Join(cs.Dir, "p8.key")
		out, err := exec.Command("openssl", "pkcs8", "-topk8", "-in", cs.KeyFile, "-out", p8, "-passout", "pass:x").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		s.KeyPEM = []string{p8}
		if _, err := tlsconf.Build(s); err == nil || !strings.Contains(err.Error(), "openssl pkey -in "+p8+" -traditional -aes256") {
			t.Fatalf("PKCS#8: %v", err)
		}
		// Following the advice gives a key that works.
		legacy := filepath.Join(cs.Dir, "legacy.key")
		out, err = exec.Command("openssl", "pkey", "-in", p8, "-passin", "pass:x", "-traditional", "-aes256", "-out", legacy, "-passout", "pass:netscape!").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		os.WriteFile(pwFile, []byte("Internal (Software) Token:netscape!\n"), 0o600)
		s.KeyPEM, s.KeyPasswdFile = []string{legacy}, pwFile
		if _, err := tlsconf.Build(s); err != nil {
			t.Fatalf("converted key: %v", err)
		}
	}
}

// nssDB creates an NSS database in dir (sql: for the cert9/key4 format,
// dbm: for cert8/key3) with a prefix, and a self-signed certificate per
// nickname, named for the host name given.
func nssDB(t *testing.T, dir, format, prefix string, certs map[string]string) {
	t.Helper()
	testenv.Need(t, "certutil", "pk12util", "openssl")
	db := []string{"-d", format + ":" + dir}
	if prefix != "" {
		db = append(db, "-P", prefix)
	}
	os.WriteFile(filepath.Join(dir, "noise"), []byte(strings.Repeat("openmmp noise ", 20)), 0o600)
	runIn(t, dir, "certutil", append([]string{"-N", "--empty-password"}, db...)...)
	for nick, host := range certs {
		runIn(t, dir, "certutil", append([]string{"-S", "-n", nick, "-s", "CN=" + host, "-x", "-t", "CTu,Cu,Cu",
			"-z", filepath.Join(dir, "noise"), "-k", "ec", "-q", "nistp256", "--extSAN", "dns:" + host, "-v", "12"}, db...)...)
	}
}

func runIn(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

// shellWords splits a command of the recipe as sh would: blanks separate
// words, double quotes (Go %q, which the recipe uses) group them.
func shellWords(t *testing.T, cmd string) []string {
	t.Helper()
	var words []string
	for rest := strings.TrimSpace(cmd); rest != ""; rest = strings.TrimLeft(rest, " ") {
		if rest[0] == '"' {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			w, _ := strconv.Unquote(q)
			words, rest = append(words, w), rest[len(q):]
			continue
		}
		w, r, _ := strings.Cut(rest, " ")
		words, rest = append(words, w), r
	}
	return words
}

// followRecipe runs the commands of an NSSError in dir, non-interactively:
// -W and -passin give the export password the tools would ask for.
func followRecipe(t *testing.T, dir string, nerr *tlsconf.NSSError) {
	t.Helper()
	for _, c := range nerr.Commands() {
		w := shellWords(t, c)
		if w[0] == "pk12util" {
			w = append(w, "-W", "export")
		} else {
			w = append(w, "-passin", "pass:export")
		}
		runIn(t, dir, w[0], w[1:]...)
	}
}

// TestNSS: SSLEnable with an NSS database and no SSLCertPEM explains the
// export, with one pk12util command per nickname of SSLCertNicknames (a
// list: "Nicknames of the certificates ... to offer as the server
// certificate", Sun Java System Messaging Server 6 2005Q1 Administration
// Reference, Table 5-1); following the explanation gives PEM files that
// work, the certificates being chosen by SNI.
func TestNSS(t *testing.T) {
	dir := t.TempDir()
	nssDB(t, dir, "sql", "", map[string]string{"Siroe.com Server-Cert": "localhost", "Server-Cert": "mail.example.org"})

	s := tlsconf.Settings{Enable: true, NSS: tlsconf.NSSSettings{CacheDir: dir, Nicknames: []string{"Siroe.com Server-Cert", "Server-Cert"},
		KeyFile: filepath.Join(dir, "key4.db"), SecmodFile: filepath.Join(dir, "secmod.db")}}
	_, err := tlsconf.Build(s)
	var nerr *tlsconf.NSSError
	if !errors.As(err, &nerr) {
		t.Fatalf("error %v, want an NSSError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`pk12util -o mmp1.p12 -n "Siroe.com Server-Cert" -d sql:` + dir,
		`pk12util -o mmp2.p12 -n "Server-Cert" -d sql:` + dir,
		"openssl pkcs12 -in mmp1.p12 -nokeys -out mmp1.crt",
		"openssl pkcs12 -in mmp2.p12 -nocerts -nodes -out mmp2.key",
		"libnss3-tools", "set SSLCertPEM to mmp1.crt mmp2.crt and SSLKeyPEM to mmp1.key mmp2.key",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	followRecipe(t, dir, nerr)
	pem := func(names ...string) []string {
		for i, n := range names {
			names[i] = filepath.Join(dir, n)
		}
		return names
	}
	c, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: pem("mmp1.crt", "mmp2.crt"), KeyPEM: pem("mmp1.key", "mmp2.key")})
	if err != nil {
		t.Fatalf("the exported PEM files: %v", err)
	}
	for i, cn := range []string{"localhost", "mail.example.org"} {
		if got := c.Client.Certificates[i].Leaf.Subject.CommonName; got != cn {
			t.Errorf("exported certificate %d: CN %q, want %q", i+1, got, cn)
		}
	}
	// Without NSS files the message is the plain one.
	if _, err := tlsconf.Build(tlsconf.Settings{Enable: true, NSS: tlsconf.NSSSettings{CacheDir: t.TempDir()}}); errors.As(err, &nerr) || err == nil {
		t.Fatalf("empty dir: %v", err)
	}
}

// TestNSSCertFile: the Netscape -s line names the certificate database
// file itself (SSLCertFile, the second argument: "Server certificate
// database file location", Netscape Messaging Server 4.x Administrator's
// Guide, Table 13.5), not a directory and a prefix. The database is found
// from it, its prefix taken from its name, and the one nickname of the
// sixth argument gives the single export command.
func TestNSSCertFile(t *testing.T) {
	for _, format := range []string{"dbm", "sql"} {
		dir := t.TempDir()
		nssDB(t, dir, format, "mmp-", map[string]string{"Server-Cert": "localhost"})
		file := map[string]string{"dbm": "mmp-cert8.db", "sql": "mmp-cert9.db"}[format]
		_, err := tlsconf.Build(tlsconf.Settings{Enable: true, NSS: tlsconf.NSSSettings{CertFile: filepath.Join(dir, file)}})
		var nerr *tlsconf.NSSError
		if !errors.As(err, &nerr) {
			t.Fatalf("%s: error %v, want an NSSError", file, err)
		}
		if got, want := nerr.Commands()[0], `pk12util -o mmp.p12 -n "Server-Cert" -d `+format+":"+dir+` -P "mmp-"`; got != want {
			t.Errorf("%s: first command %q, want %q", file, got, want)
		}
		if !strings.Contains(err.Error(), "set SSLCertPEM to mmp.crt and SSLKeyPEM to mmp.key") {
			t.Errorf("%s: %v", file, err)
		}
		followRecipe(t, dir, nerr)
		if _, err := tlsconf.Build(tlsconf.Settings{Enable: true, CertPEM: []string{filepath.Join(dir, "mmp.crt")},
			KeyPEM: []string{filepath.Join(dir, "mmp.key")}}); err != nil {
			t.Errorf("%s: the exported PEM files: %v", file, err)
		}
	}
}
