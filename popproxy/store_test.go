package popproxy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// storeScript changes how the fake store behaves.
type storeScript struct {
	greeting string   // sent on connect, without CRLF; default "+OK Fake store ready"
	capa     []string // CAPA lines before login; nil: CAPA is refused with -ERR
	refuse   string   // if set, the text of a -ERR to every PASS and AUTH
	// refuseUser, if set, is the text of a -ERR to every USER.
	refuseUser string
}

// defaultCapa is a store that offers SASL PLAIN.
var defaultCapa = []string{"TOP", "UIDL", "RESP-CODES", "USER", "SASL PLAIN LOGIN"}

// fakeStore is a scripted POP3 store on loopback that records every octet
// it receives, so that tests can compare the replay with a golden
// transcript.
type fakeStore struct {
	t      testing.TB
	ln     net.Listener
	script storeScript
	users  map[string]string

	mu       sync.Mutex
	received []*bytes.Buffer
	// pipelined[i]: on connection i, PASS had arrived with USER (it was
	// in the reader's buffer when USER was read).
	pipelined map[int]bool
	wg        sync.WaitGroup
}

func newFakeStore(t testing.TB, script storeScript, users map[string]string) *fakeStore {
	t.Helper()
	if script.greeting == "" {
		script.greeting = "+OK Fake store ready"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeStore{t: t, ln: ln, script: script, users: users}
	fs.wg.Add(1)
	go fs.accept()
	t.Cleanup(func() { ln.Close(); fs.wg.Wait() })
	return fs
}

func (fs *fakeStore) addr() string { return fs.ln.Addr().String() }

func (fs *fakeStore) port() int { return fs.ln.Addr().(*net.TCPAddr).Port }

// conns is how many connections the store has accepted.
func (fs *fakeStore) conns() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.received)
}

// got returns what connection i (from 0) received so far.
func (fs *fakeStore) got(i int) string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if i >= len(fs.received) {
		return ""
	}
	return fs.received[i].String()
}

func (fs *fakeStore) accept() {
	defer fs.wg.Done()
	for {
		c, err := fs.ln.Accept()
		if err != nil {
			return
		}
		buf := &lockedBuffer{mu: &fs.mu}
		fs.mu.Lock()
		fs.received = append(fs.received, &buf.b)
		i := len(fs.received) - 1
		fs.mu.Unlock()
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			defer c.Close()
			fs.serve(i, c, bufio.NewReader(io.TeeReader(c, buf)))
		}()
	}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// pipelinedPass says whether PASS came with USER on connection i.
func (fs *fakeStore) pipelinedPass(i int) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.pipelined[i]
}

func (fs *fakeStore) serve(i int, c net.Conn, r *bufio.Reader) {
	reply := func(s string, a ...any) { fmt.Fprintf(c, s+"\r\n", a...) }
	reply("%s", fs.script.greeting)
	if !strings.HasPrefix(fs.script.greeting, "+OK") {
		return
	}
	readLine := func() (string, bool) {
		line, err := r.ReadString('\n')
		return strings.TrimSuffix(line, "\r\n"), err == nil
	}
	user, pending := "", ""
	login := func(name, pass string) {
		switch {
		case fs.script.refuse != "":
			reply("-ERR %s", fs.script.refuse)
		case name != "" && fs.users[name] == pass:
			user = name
			reply("+OK Logged in as %s.", name)
		default:
			reply("-ERR [AUTH] Authentication failed.")
		}
	}
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		cmd, arg, _ := strings.Cut(line, " ")
		cmd = strings.ToUpper(cmd)
		if user == "" {
			switch {
			case cmd == "CAPA" && fs.script.capa != nil:
				reply("+OK")
				for _, l := range fs.script.capa {
					reply("%s", l)
				}
				reply(".")
			case cmd == "USER":
				if r.Buffered() > 0 {
					fs.mu.Lock()
					if fs.pipelined == nil {
						fs.pipelined = map[int]bool{}
					}
					fs.pipelined[i] = true
					fs.mu.Unlock()
				}
				if fs.script.refuseUser != "" {
					reply("-ERR %s", fs.script.refuseUser)
					continue
				}
				pending = arg
				reply("+OK")
			case cmd == "PASS" && pending != "":
				login(pending, arg)
				pending = ""
			case cmd == "AUTH" && strings.HasPrefix(strings.ToUpper(arg), "PLAIN"):
				_, resp, hasIR := strings.Cut(arg, " ")
				if !hasIR {
					reply("+ ")
					if resp, ok = readLine(); !ok {
						return
					}
				}
				dec, _ := base64.StdEncoding.DecodeString(resp)
				parts := strings.Split(string(dec), "\x00")
				if len(parts) != 3 {
					reply("-ERR bad PLAIN")
					continue
				}
				login(parts[1], parts[2])
			case cmd == "QUIT":
				reply("+OK bye")
				return
			default:
				reply("-ERR not now")
			}
			continue
		}
		switch cmd {
		case "WHOAMI":
			reply("+OK %s", user)
		case "STAT":
			reply("+OK 1 100")
		case "CAPA":
			reply("+OK")
			reply("TOP")
			reply("UIDL")
			reply("IMPLEMENTATION fakestore")
			reply(".")
		case "QUIT":
			reply("+OK bye")
			return
		default:
			reply("-ERR unknown")
		}
	}
}
