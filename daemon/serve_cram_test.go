package daemon

import (
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// Challenge-response logins through the MMP to real Dovecot (CRAMs, docs/reference.md
// §2.3): IMAP AUTHENTICATE CRAM-MD5 with Python's imaplib and POP APOP with
// poplib. The MMP checks the response against the clear-text
// userPassword in slapd, then logs in to the user's own store. (One
// in-process daemon per test: they stop on the process's SIGTERM.)
func TestCRAMMD5EndToEnd(t *testing.T) {
	env := twostores.Start(t)
	addr, _ := startImapProxy(t, env, "--CRAMs", "yes")
	challengeLogins(t, imapScript, addr, "AUTH=CRAM-MD5", "AUTHENTICATIONFAILED")
}

func TestAPOPEndToEnd(t *testing.T) {
	env := twostores.Start(t)
	addr, _ := startPopProxy(t, env, "--CRAMs", "yes")
	challengeLogins(t, popScript, addr, "", "[AUTH]")
}

// POP AUTH CRAM-MD5 (RFC 5034 with RFC 2195), offered with CRAMs as on the
// IMAP side: the MMP's challenge, the client's HMAC-MD5 answer, checked
// against slapd's clear-text password, then the store as with APOP.
func TestPOPCRAMMD5EndToEnd(t *testing.T) {
	env := twostores.Start(t)
	addr, _ := startPopProxy(t, env, "--CRAMs", "yes")
	challengeLogins(t, popCRAMScript, addr, "SASL PLAIN LOGIN CRAM-MD5", "[AUTH]")
}

// popCRAMScript runs AUTH CRAM-MD5 with poplib's line primitives (poplib
// has no CRAM-MD5 of its own).
const popCRAMScript = `
import base64, hashlib, hmac, poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
print("SASL", " ".join(p.capa().get("SASL", [])))
p._putcmd("AUTH CRAM-MD5")
line, _ = p._getline()
challenge = base64.b64decode(line[2:])
digest = hmac.new(sys.argv[4].encode(), challenge, hashlib.md5).hexdigest()
p._putcmd(base64.b64encode((sys.argv[3] + " " + digest).encode()).decode())
try:
    p._getresp()
except poplib.error_proto as e:
    print("REFUSED", e)
    sys.exit(0)
for line in p.retr(1)[1]:
    if line.startswith(b"Subject:"):
        print(line.decode())
p.quit()
`

const imapScript = `
import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
print("CAPS", " ".join(m.capabilities))
try:
    m.login_cram_md5(sys.argv[3], sys.argv[4])
except imaplib.IMAP4.error as e:
    print("REFUSED", e)
    sys.exit(0)
m.select("INBOX")
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(data[0][1].decode().strip())
m.logout()
`

const popScript = `
import poplib, sys
p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
try:
    p.apop(sys.argv[3], sys.argv[4])
except poplib.error_proto as e:
    print("REFUSED", e)
    sys.exit(0)
for line in p.retr(1)[1]:
    if line.startswith(b"Subject:"):
        print(line.decode())
p.quit()
`

// challengeLogins logs alice and bob in with a Python script and checks
// that each reached their own store, and that a wrong password is refused
// with the refusal text.
func challengeLogins(t *testing.T, script, addr, offered, refusal string) {
	py := testenv.Binary(t, "python3")
	run := func(script, addr, user, pass string) string {
		t.Helper()
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(py, "-c", script, host, port, user, pass).CombinedOutput()
		if err != nil {
			t.Fatalf("python %s as %s: %v\n%s", addr, user, err, out)
		}
		return string(out)
	}
	for _, uid := range []string{"alice", "bob"} {
		a := twostores.User(uid)
		want := "Subject: " + twostores.WelcomeSubject(a)
		if out := run(script, addr, a.UID, a.Password); !strings.Contains(out, offered) || !strings.Contains(out, want) {
			t.Errorf("as %s printed %q, want %q offered and %q", uid, out, offered, want)
		}
	}
	alice := twostores.User("alice")
	if out := run(script, addr, alice.UID, "wrong"); !strings.Contains(out, "REFUSED") || !strings.Contains(out, refusal) {
		t.Errorf("with a wrong password: %q, want a refusal with %s", out, refusal)
	}
}
