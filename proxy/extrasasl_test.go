package proxy_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// authServer is a recording AuthenticationServer (a Sun add-on that
// exists nowhere else, so a fake is the only peer there is) that
// performs a toy mechanism, X-TOKEN: it challenges with a nonce and
// accepts "user:token-for-<nonce>" for its users.
type authServer struct {
	ln    net.Listener
	users map[string]bool
	mu    sync.Mutex
	lines []string // every line received
}

func startAuthServer(t *testing.T, users ...string) *authServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &authServer{ln: ln, users: map[string]bool{}}
	for _, u := range users {
		a.users[u] = true
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for n := 1; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go a.serve(c, "nonce-"+string(rune('0'+n%10)))
		}
	}()
	return a
}

func (a *authServer) serve(c net.Conn, nonce string) {
	defer c.Close()
	r := bufio.NewReader(c)
	b64 := base64.StdEncoding
	for step := 0; ; step++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		a.mu.Lock()
		a.lines = append(a.lines, line)
		a.mu.Unlock()
		switch {
		case step == 0 && !strings.HasPrefix(line, "SASL X-TOKEN "):
			c.Write([]byte("NO unknown request\r\n"))
			return
		case step == 0:
			c.Write([]byte("+ " + b64.EncodeToString([]byte(nonce)) + "\r\n"))
		default:
			resp, _ := b64.DecodeString(line)
			user, token, _ := strings.Cut(string(resp), ":")
			if a.users[user] && token == "token-for-"+nonce {
				c.Write([]byte("OK " + user + "\r\n"))
			} else {
				c.Write([]byte("NO bad token\r\n"))
			}
			return
		}
	}
}

func (a *authServer) received() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.lines...)
}

// relayingDirectory is the in-memory directory with the real
// AuthenticationServer client of package directory.
type relayingDirectory struct {
	*proxytest.Directory
	real *directory.Directory
}

func (d relayingDirectory) RelaySASL(ctx context.Context, v *config.Values, mech string, client, server netip.Addr) (account.SASLRelay, error) {
	return d.real.RelaySASL(ctx, v, mech, client, server)
}

// tokenLogin runs X-TOKEN for user on c; the prompt starts a challenge.
func tokenLogin(t *testing.T, c *lineConn, command, prompt, user string) {
	t.Helper()
	c.send(command + " X-TOKEN")
	l := c.line(t)
	ch, ok := strings.CutPrefix(l, prompt)
	if !ok {
		t.Fatalf("%s X-TOKEN: %q, want a challenge", command, l)
	}
	nonce, err := base64.StdEncoding.DecodeString(ch)
	if err != nil {
		t.Fatalf("challenge %q: %v", ch, err)
	}
	c.send(base64.StdEncoding.EncodeToString([]byte(user + ":token-for-" + string(nonce))))
}
