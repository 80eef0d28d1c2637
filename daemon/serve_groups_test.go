package daemon

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/testcert"
)

// TestKeyExchangeGroupsRefresh: SSLKeyExchangeGroups in
// ImapProxyAService.cfg decides the key exchange a real client
// negotiates on the SSL port (openssl s_client offering X25519 and P-384,
// Python's ssl offering one curve), and a refresh applies a change as it
// applies a renewed certificate. A name Go does not know fails the check
// and the refresh, naming the file, the line and the parameter, and the
// running groups stay.
func TestKeyExchangeGroupsRefresh(t *testing.T) {
	openssl := testenv.Binary(t, "openssl")
	py := testenv.Binary(t, "python3")
	cs := testcert.New(t)
	plain := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	sslPort := testenv.FreePort(t)
	ssl := fmt.Sprintf("127.0.0.1:%d", sslPort)
	service := func(groups string) string {
		return fmt.Sprintf("default:LdapUrl \"ldap://127.0.0.1:1/o=internet\"\ndefault:BGExcluded 127.0.0.0/8\n"+
			"default:SSLEnable yes\ndefault:SSLPorts %d\ndefault:SSLCertPEM %s\ndefault:SSLKeyPEM %s\n"+
			"default:SSLKeyExchangeGroups %s\n", sslPort, cs.CertFile, cs.KeyFile, groups)
	}
	r := newRig(t, map[string]string{
		"AService.cfg":          fmt.Sprintf("default:ServiceList ImapProxyAService@%s|%s\ndefault:LogDir log\n", plain, ssl),
		"ImapProxyAService.cfg": service("P384"),
	})
	r.start(plain)

	// sClient returns s_client's "Server Temp Key" with the client
	// offering X25519 first (its key share) and P-384.
	sClient := func(when string) string {
		t.Helper()
		cmd := exec.Command(openssl, "s_client", "-connect", ssl, "-servername", "localhost", "-CAfile", cs.CAFile,
			"-verify_return_error", "-groups", "X25519:P-384", "-brief")
		cmd.Stdin = strings.NewReader("")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		testenv.WaitCommand(t, cmd, 20*time.Second, &out)
		for _, l := range strings.Split(out.String(), "\n") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(l), "Server Temp Key:"); ok {
				return strings.TrimSpace(k)
			}
		}
		t.Errorf("%s: no Server Temp Key in\n%s", when, out.String())
		return ""
	}
	// python reports whether Python's ssl, offering curve alone, gets
	// the greeting.
	python := func(curve string) string {
		t.Helper()
		script := `import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
ctx.set_ecdh_curve(sys.argv[2])
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[3])), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            print("greeting", t.recv(100).decode().split()[1])
except ssl.SSLError as e:
    print("refused", e.reason)
`
		out, err := exec.Command(py, "-c", script, cs.CAFile, curve, fmt.Sprint(sslPort)).CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	goClient := func() tls.CurveID {
		t.Helper()
		tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ssl, cs.ClientConfig("localhost"))
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		return tc.ConnectionState().CurveID
	}

	if got := sClient("P384"); !strings.Contains(got, "secp384r1") {
		t.Errorf("SSLKeyExchangeGroups P384: s_client negotiated %q, want P-384", got)
	}
	if got := python("prime256v1"); !strings.HasPrefix(got, "refused") {
		t.Errorf("SSLKeyExchangeGroups P384, Python offering P-256 alone: %q, want refused", got)
	}
	if got := python("secp384r1"); got != "greeting OK" {
		t.Errorf("SSLKeyExchangeGroups P384, Python offering P-384: %q", got)
	}
	if got := goClient(); got != tls.CurveP384 {
		t.Errorf("SSLKeyExchangeGroups P384: Go's client negotiated %v", got)
	}

	r.write("ImapProxyAService.cfg", service("X25519 P256"))
	if got := r.hup(); !strings.HasPrefix(got, "ok: ") {
		t.Fatalf("refresh: %q", got)
	}
	if got := sClient("after the refresh"); !strings.Contains(got, "X25519") {
		t.Errorf("after a refresh to X25519 P256: s_client negotiated %q, want X25519", got)
	}
	if got := python("prime256v1"); got != "greeting OK" {
		t.Errorf("after a refresh to X25519 P256, Python offering P-256: %q", got)
	}
	if got := python("secp384r1"); !strings.HasPrefix(got, "refused") {
		t.Errorf("after a refresh to X25519 P256, Python offering P-384 alone: %q, want refused", got)
	}

	// Go's default, the hybrid post-quantum exchange first.
	r.write("ImapProxyAService.cfg", service("default"))
	if got := r.hup(); !strings.HasPrefix(got, "ok: ") {
		t.Fatalf("refresh: %q", got)
	}
	if got := goClient(); got != tls.X25519MLKEM768 {
		t.Errorf("SSLKeyExchangeGroups default: Go's client negotiated %v, want X25519MLKEM768", got)
	}

	r.write("ImapProxyAService.cfg", service("X25519 X448"))
	want := "ImapProxyAService.cfg:7: SSLKeyExchangeGroups: "
	var out bytes.Buffer
	if code := check(&out, r.dir); code != ExitConfig || !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "X448") {
		t.Errorf("AService -check with X448: exit %d, want %d and %q\n%s", code, ExitConfig, want, out.String())
	}
	if got := r.hup(); !strings.HasPrefix(got, "failed: ") || !strings.Contains(got, want) {
		t.Errorf("refresh with X448: %q, want failed with %q", got, want)
	}
	if got := goClient(); got != tls.X25519MLKEM768 {
		t.Errorf("after a refused refresh: Go's client negotiated %v, want the running X25519MLKEM768", got)
	}

	// Post-quantum only: TLS 1.2 clients have no key exchange left, which
	// the check says; it is a choice, not an error.
	r.write("ImapProxyAService.cfg", service("X25519MLKEM768"))
	out.Reset()
	want = "ImapProxyAService.cfg:7: SSLKeyExchangeGroups: only hybrid post-quantum groups"
	if code := check(&out, r.dir); code == ExitConfig || !strings.Contains(out.String(), want) {
		t.Errorf("AService -check with X25519MLKEM768 alone: exit %d, want a warning %q\n%s", code, want, out.String())
	}
	if got := r.hup(); !strings.HasPrefix(got, "ok: ") {
		t.Fatalf("refresh to X25519MLKEM768 alone: %q", got)
	}
	cfg := cs.ClientConfig("localhost")
	cfg.MaxVersion = tls.VersionTLS12
	if tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ssl, cfg); err == nil {
		tc.Close()
		t.Error("a TLS 1.2 client got through SSLKeyExchangeGroups X25519MLKEM768")
	}
	if got := goClient(); got != tls.X25519MLKEM768 {
		t.Errorf("SSLKeyExchangeGroups X25519MLKEM768: Go's client negotiated %v", got)
	}
}
