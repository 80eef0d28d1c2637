package popproxy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
)

// spoofWire is a spoof file as the reference has it: POP wire form, dot-stuffed,
// ending with a dot line. Its message has a line that starts with a dot
// and a line that is only a dot.
const spoofWire = "From: postmaster@siroe.com\r\n" +
	"Subject: Your mailbox is temporarily unavailable\r\n" +
	"\r\n" +
	"Your mail server is undergoing maintenance.\r\n" +
	"..signature follows\r\n" +
	"..\r\n" +
	"The postmaster\r\n" +
	".\r\n"

// spoofPlain is the same message written by hand: LF line ends, no
// stuffing, no dot line.
const spoofPlain = "From: postmaster@siroe.com\n" +
	"Subject: Your mailbox is temporarily unavailable\n" +
	"\n" +
	"Your mail server is undergoing maintenance.\n" +
	".signature follows\n" +
	".\n" +
	"The postmaster\n"

// spoofSize is the message's size with CRLF line ends, unstuffed.
var spoofSize = len(strings.ReplaceAll(spoofPlain, "\n", "\r\n"))

// spoofRETR is what RETR 1 sends after its +OK line.
var spoofRETR = []string{
	"From: postmaster@siroe.com",
	"Subject: Your mailbox is temporarily unavailable",
	"",
	"Your mail server is undergoing maintenance.",
	"..signature follows",
	"..",
	"The postmaster",
	".",
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spoof.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// storeDown makes every user's mail host unreachable.
func (h *harness) storeDown() {
	for _, u := range []string{"alice", "bob"} {
		h.router.SetUser(u, &account.User{DN: "uid=" + u, MailHosts: []string{"127.0.0.1:1"}})
	}
}

// login logs in with USER and PASS and expects the reply.
func (cl *client) login(user, pass, want string) {
	cl.T.Helper()
	cl.Do("USER "+user, "+OK")
	cl.Do("PASS "+pass, want)
}

func TestStoreDownNoSpoof(t *testing.T) {
	h := start(t, setup{})
	h.storeDown()
	cl := h.greeted()
	cl.login("alice", "alicepw", "-ERR [SYS/TEMP] Your POP server appears to be temporarily out of service.")
	// The session stays usable.
	h.router.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{"127.0.0.1"}})
	cl.Do("USER alice", "+OK")
	cl.Send("PASS alicepw\r\n")
	cl.loggedIn("alice")
}

// Every command of the spoofed maildrop, with a dot-stuffed message, for
// a file in wire form and the same message written by hand.
func TestSpoofMessageFile(t *testing.T) {
	for name, text := range map[string]string{"wire form": spoofWire, "hand written": spoofPlain} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, text)
			h := start(t, setup{settings: map[string]string{"SpoofMessageFile": path, "PopCapability": "TOP UIDL USER EXPIRE NEVER"}})
			h.storeDown()
			cl := h.greeted()
			cl.login("alice", "alicepw", "+OK Logged in")
			size := strconv.Itoa(spoofSize)
			cl.Do("STAT", "+OK 1 "+size)
			cl.Do("LIST", "+OK 1 messages ("+size+" octets)", "1 "+size, ".")
			cl.Do("LIST 1", "+OK 1 "+size)
			cl.Do("LIST 2", "-ERR No such message")
			cl.Send("UIDL\r\n")
			cl.Expect("+OK")
			uidl := strings.TrimPrefix(cl.ExpectPrefix("1 mmp-spoof-"), "1 ")
			cl.Expect(".")
			cl.Do("UIDL 1", "+OK 1 "+uidl)
			cl.Do("RETR 1", append([]string{"+OK " + size + " octets"}, spoofRETR...)...)
			cl.Do("TOP 1 0", "+OK", spoofRETR[0], spoofRETR[1], spoofRETR[2], ".")
			cl.Do("TOP 1 2", "+OK", spoofRETR[0], spoofRETR[1], spoofRETR[2], spoofRETR[3], spoofRETR[4], ".")
			cl.Do("TOP 1 100", append([]string{"+OK"}, spoofRETR...)...)
			cl.Do("RETR 2", "-ERR No such message")
			cl.Do("RETR x", "-ERR Invalid message number")
			cl.Do("DELE 1", "+OK Message 1 deleted")
			cl.Do("STAT", "+OK 0 0")
			cl.Do("LIST", "+OK 0 messages (0 octets)", ".")
			cl.Do("UIDL", "+OK", ".")
			cl.Do("RETR 1", "-ERR Message 1 already deleted")
			cl.Do("DELE 1", "-ERR Message 1 already deleted")
			cl.Do("RSET", "+OK Maildrop has 1 messages ("+size+" octets)")
			cl.Do("STAT", "+OK 1 "+size)
			cl.Do("NOOP", "+OK")
			cl.Do("CAPA", "+OK Capability list follows", "TOP", "UIDL", "EXPIRE NEVER", ".")
			cl.Do("USER bob", "-ERR Command unknown or not allowed now")
			cl.Do("DELE 1", "+OK Message 1 deleted")
			cl.Do("QUIT", "+OK Messaging Multiplexor signing off")
			cl.Closed()

			// Nothing was expunged, and the UIDL is the same in the next
			// session: the client does not fetch the notice again.
			cl2 := h.greeted()
			cl2.login("bob", "bob pw x", "+OK Logged in")
			cl2.Do("STAT", "+OK 1 "+size)
			cl2.Do("UIDL 1", "+OK 1 "+uidl)
			if uidl != spoofUIDL(t, spoofWire) {
				t.Errorf("UIDL %s differs between the two spellings of the message", uidl)
			}
			if h.cache.Len() != 0 {
				t.Error("a spoofed login was recorded for POP-before-SMTP")
			}
			if logs := h.logs.String(); !strings.Contains(logs, "SPOOF: serving the spoof message (UIDL "+uidl+") (SpoofEmptyMailbox, SpoofMessageFile "+path+")") {
				t.Errorf("no spoof line in the log:\n%s", logs)
			}
		})
	}
}

// spoofUIDL runs a session against a new proxy to read the UIDL of a file.
func spoofUIDL(t *testing.T, text string) string {
	t.Helper()
	h := start(t, setup{settings: map[string]string{"SpoofMessageFile": writeFile(t, text)}})
	h.storeDown()
	cl := h.greeted()
	cl.login("alice", "alicepw", "+OK Logged in")
	cl.Send("UIDL 1\r\n")
	return strings.TrimPrefix(cl.ExpectPrefix("+OK 1 mmp-spoof-"), "+OK 1 ")
}

// A new notice in the same file gets a new UIDL at the next session,
// without a refresh.
func TestSpoofFileChanges(t *testing.T) {
	path := writeFile(t, spoofWire)
	h := start(t, setup{settings: map[string]string{"SpoofMessageFile": path}})
	h.storeDown()
	uidl := func() string {
		cl := h.greeted()
		cl.login("alice", "alicepw", "+OK Logged in")
		cl.Send("UIDL 1\r\n")
		return strings.TrimPrefix(cl.ExpectPrefix("+OK 1 mmp-spoof-"), "+OK 1 ")
	}
	first := uidl()
	if again := uidl(); again != first {
		t.Fatalf("UIDL changed from %s to %s with the same file", first, again)
	}
	if err := os.WriteFile(path, []byte("Subject: new notice\r\n\r\nBack soon.\r\n.\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Now(), time.Now().Add(time.Minute)) // a new mtime even within the same second
	if changed := uidl(); changed == first {
		t.Errorf("UIDL %s kept after the file changed", first)
	}
}

func TestSpoofEmptyMailbox(t *testing.T) {
	// SpoofEmptyMailbox wins over SpoofMessageFile.
	h := start(t, setup{settings: map[string]string{"SpoofEmptyMailbox": "on", "SpoofMessageFile": writeFile(t, spoofWire)}})
	h.storeDown()
	cl := h.greeted()
	cl.Send("AUTH PLAIN " + b64("\x00alice\x00alicepw") + "\r\n")
	cl.Expect("+OK Logged in")
	cl.Do("STAT", "+OK 0 0")
	cl.Do("LIST", "+OK 0 messages (0 octets)", ".")
	cl.Do("UIDL", "+OK", ".")
	cl.Do("LIST 1", "-ERR No such message")
	cl.Do("RETR 1", "-ERR No such message")
	cl.Do("TOP 1 0", "-ERR No such message")
	cl.Do("DELE 1", "-ERR No such message")
	cl.Do("RSET", "+OK Maildrop has 0 messages (0 octets)")
	cl.Do("NOOP", "+OK")
	cl.Do("QUIT", "+OK Messaging Multiplexor signing off")
	cl.Closed()
	if logs := h.logs.String(); !strings.Contains(logs, "no store is reachable; SPOOF: serving an empty mailbox (SpoofEmptyMailbox)") {
		t.Errorf("no spoof line in the log:\n%s", logs)
	}
}

// A spoof file that has gone is logged, and the client gets the plain
// failure rather than a mailbox nobody asked for.
func TestSpoofFileMissing(t *testing.T) {
	path := writeFile(t, spoofWire)
	h := start(t, setup{settings: map[string]string{"SpoofMessageFile": path}})
	os.Remove(path)
	h.storeDown()
	h.greeted().login("alice", "alicepw", "-ERR [SYS/TEMP] Your POP server appears to be temporarily out of service.")
	if logs := h.logs.String(); !strings.Contains(logs, "SpoofMessageFile cannot be served") {
		t.Errorf("log does not say why:\n%s", logs)
	}
}

// SpoofTempFail: temporary failures (directory unavailable or account on
// hold; the store's [SYS/TEMP]) get the spoof rules too; without it they
// are -ERR [SYS/TEMP].
func TestSpoofTempFail(t *testing.T) {
	held := fmt.Errorf("directory: user mailUserStatus is \"hold\": %w", account.ErrUnavailable)
	file := writeFile(t, spoofWire)
	tests := []struct {
		name     string
		settings map[string]string
		lookup   error
		refuse   string
		stat     string // STAT after the spoofed login, or "" for want
		want     string // the login reply
	}{
		{"hold, no SpoofTempFail", map[string]string{"SpoofMessageFile": file}, held, "", "",
			"-ERR [SYS/TEMP] Login is temporarily unavailable, try again later"},
		{"hold, message file", map[string]string{"SpoofTempFail": "1", "SpoofMessageFile": file}, held, "",
			"+OK 1 " + strconv.Itoa(spoofSize), "+OK Logged in"},
		{"hold, empty mailbox wins", map[string]string{"SpoofTempFail": "1", "SpoofEmptyMailbox": "on", "SpoofMessageFile": file}, held, "",
			"+OK 0 0", "+OK Logged in"},
		{"hold, SpoofTempFail alone", map[string]string{"SpoofTempFail": "1"}, held, "", "+OK 0 0", "+OK Logged in"},
		{"store SYS/TEMP, no SpoofTempFail", map[string]string{"SpoofEmptyMailbox": "on"}, nil, "[SYS/TEMP] Maildrop locked", "",
			"-ERR [SYS/TEMP] Maildrop locked"},
		{"store SYS/TEMP, message file", map[string]string{"SpoofTempFail": "1", "SpoofMessageFile": file}, nil, "[SYS/TEMP] Maildrop locked",
			"+OK 1 " + strconv.Itoa(spoofSize), "+OK Logged in"},
		{"wrong password is never spoofed", map[string]string{"SpoofTempFail": "1", "SpoofEmptyMailbox": "on"}, nil, "[AUTH] no", "",
			"-ERR [AUTH] Authentication failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, setup{settings: tt.settings, store: storeScript{refuse: tt.refuse}})
			h.router.SetErr(tt.lookup)
			cl := h.greeted()
			cl.login("alice", "alicepw", tt.want)
			if tt.stat != "" {
				cl.Do("STAT", tt.stat)
				if logs := h.logs.String(); !strings.Contains(logs, "SPOOF: serving") || !strings.Contains(logs, "SpoofTempFail") {
					t.Errorf("no spoof line in the log:\n%s", logs)
				}
			}
		})
	}
}
