package imapproxy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeStore is a scripted IMAP store on loopback that records every octet
// it receives, so tests can compare the replay with a golden transcript.
type fakeStore struct {
	t        testing.TB
	ln       net.Listener
	greeting string            // sent on connect, without CRLF
	users    map[string]string // name → password
	// untagged is sent before the tagged reply to a successful login.
	untagged string
	// refuse, if set, is the text of a NO to every login.
	refuse string

	mu       sync.Mutex
	received []*bytes.Buffer
	wg       sync.WaitGroup
}

const defaultStoreGreeting = "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Fake store ready"

func newFakeStore(t testing.TB, greeting string, users map[string]string) *fakeStore {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeStore{t: t, ln: ln, greeting: greeting, users: users}
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
		fs.mu.Unlock()
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			defer c.Close()
			fs.serve(c, bufio.NewReader(io.TeeReader(c, buf)))
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

// readCommand reads one command with its literals: the words of the
// lines, each literal as one word.
func readCommand(c net.Conn, r *bufio.Reader) ([]string, error) {
	var words []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		n, plus, ok := literalAtEnd(line)
		if !ok {
			return append(words, strings.Fields(line)...), nil
		}
		words = append(words, strings.Fields(line[:strings.LastIndexByte(line, '{')])...)
		if !plus {
			io.WriteString(c, "+ go ahead\r\n")
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(r, lit); err != nil {
			return nil, err
		}
		words = append(words, string(lit))
	}
}

func literalAtEnd(line string) (int, bool, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false
	}
	num := line[i+1 : len(line)-1]
	plus := strings.HasSuffix(num, "+")
	n, err := strconv.Atoi(strings.TrimSuffix(num, "+"))
	return n, plus, err == nil
}

func (fs *fakeStore) serve(c net.Conn, r *bufio.Reader) {
	io.WriteString(c, fs.greeting+"\r\n")
	if !strings.HasPrefix(fs.greeting, "* OK") {
		return
	}
	user := ""
	for {
		w, err := readCommand(c, r)
		if err != nil || len(w) < 2 {
			return
		}
		tag, cmd := w[0], strings.ToUpper(w[1])
		reply := func(s string, a ...any) { fmt.Fprintf(c, s+"\r\n", a...) }
		if user == "" {
			var name, pass string
			switch {
			case cmd == "LOGIN" && len(w) == 4:
				name, pass = w[2], w[3]
			case cmd == "AUTHENTICATE" && len(w) >= 3 && strings.EqualFold(w[2], "PLAIN"):
				resp := ""
				if len(w) == 4 {
					resp = w[3]
				} else {
					io.WriteString(c, "+ \r\n")
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					resp = strings.TrimRight(line, "\r\n")
				}
				dec, _ := base64.StdEncoding.DecodeString(resp)
				parts := strings.Split(string(dec), "\x00")
				if len(parts) == 3 {
					name, pass = parts[1], parts[2]
				}
			default:
				reply("%s BAD not now", tag)
				continue
			}
			if fs.refuse != "" {
				reply("%s NO %s", tag, fs.refuse)
			} else if want, ok := fs.users[name]; ok && want == pass && name != "" {
				user = name
				if fs.untagged != "" {
					reply("%s", fs.untagged)
				}
				reply("%s OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Logged in as %s", tag, name)
			} else {
				reply("%s NO [AUTHENTICATIONFAILED] Authentication failed.", tag)
			}
			continue
		}
		switch cmd {
		case "NOOP":
			reply("%s OK NOOP completed", tag)
		case "WHOAMI":
			reply("* WHOAMI %s", user)
			reply("%s OK done", tag)
		case "FETCH": // FETCH n: a message of n octets
			n, _ := strconv.Atoi(w[2])
			fmt.Fprintf(c, "* 1 FETCH (BODY[] {%d}\r\n", n)
			io.Copy(c, io.LimitReader(zeros{}, int64(n)))
			reply(")")
			reply("%s OK FETCH completed", tag)
		case "APPEND": // APPEND literal: says how many octets arrived
			reply("%s OK [APPENDUID 1 %d] APPEND completed", tag, len(w[len(w)-1]))
		case "LOGOUT":
			reply("* BYE logging out")
			reply("%s OK LOGOUT completed", tag)
			return
		default:
			reply("%s BAD unknown", tag)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
