package postfix

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
)

// authServer is the server side of Dovecot's authentication protocol
// (doc/auth-protocol.txt in Dovecot, version 1.x), as far as Postfix's
// xsasl_dovecot client uses it: the handshake, AUTH with or without an
// initial response, CONT, and the OK and FAIL replies, for the mechanisms
// PLAIN and LOGIN. It lets smtpd offer SMTP AUTH without Cyrus SASL
// configuration or system accounts.
//
// It listens on TCP loopback rather than a UNIX socket, which would need a
// path under 108 bytes and permissions for the postfix user.
type authServer struct {
	ln    net.Listener
	users map[string]string

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startAuthServer(users []account) (*authServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &authServer{ln: ln, users: map[string]string{}, conns: map[net.Conn]bool{}}
	for _, u := range users {
		a.users[u.name] = u.password
	}
	a.wg.Add(1)
	go a.serve()
	return a, nil
}

// Addr returns host:port of the listener.
func (a *authServer) Addr() string { return a.ln.Addr().String() }

// Close stops listening, closes the connections and waits for their
// goroutines.
func (a *authServer) Close() {
	a.ln.Close()
	a.mu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

func (a *authServer) serve() {
	defer a.wg.Done()
	for {
		c, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.conns[c] = true
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.serveConn(c)
			a.mu.Lock()
			delete(a.conns, c)
			a.mu.Unlock()
			c.Close()
		}()
	}
}

// request is an authentication in progress, keyed by the client's id.
type request struct {
	mech     string
	username string // LOGIN: after the first CONT
}

func (a *authServer) serveConn(c net.Conn) {
	cookie := make([]byte, 16)
	rand.Read(cookie)
	fmt.Fprintf(c, "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t%d\nCUID\t1\nCOOKIE\t%s\nDONE\n",
		os.Getpid(), hex.EncodeToString(cookie))
	pending := map[string]*request{}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Split(strings.TrimRight(line, "\r\n"), "\t")
		switch {
		case f[0] == "AUTH" && len(f) >= 3:
			id, req := f[1], &request{mech: strings.ToUpper(f[2])}
			resp, hasResp := "", false
			for _, p := range f[3:] {
				if v, ok := strings.CutPrefix(p, "resp="); ok {
					resp, hasResp = v, true
				}
			}
			if req.mech != "PLAIN" && req.mech != "LOGIN" {
				fmt.Fprintf(c, "FAIL\t%s\treason=unsupported mechanism\n", id)
				continue
			}
			pending[id] = req
			if !hasResp {
				fmt.Fprintf(c, "CONT\t%s\t%s\n", id, a.challenge(req))
				continue
			}
			a.step(c, pending, id, resp)
		case f[0] == "CONT" && len(f) >= 2:
			data := ""
			if len(f) >= 3 {
				data = f[2]
			}
			a.step(c, pending, f[1], data)
		}
		// VERSION and CPID from the client need no answer.
	}
}

// challenge returns the next base64 challenge of req.
func (a *authServer) challenge(req *request) string {
	switch {
	case req.mech == "LOGIN" && req.username == "":
		return base64.StdEncoding.EncodeToString([]byte("Username:"))
	case req.mech == "LOGIN":
		return base64.StdEncoding.EncodeToString([]byte("Password:"))
	}
	return "" // PLAIN: an empty challenge asks for the initial response
}

// step handles one base64 client response for request id.
func (a *authServer) step(c net.Conn, pending map[string]*request, id, b64 string) {
	req := pending[id]
	if req == nil {
		fmt.Fprintf(c, "FAIL\t%s\treason=unknown request\n", id)
		return
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		delete(pending, id)
		fmt.Fprintf(c, "FAIL\t%s\treason=invalid base64\n", id)
		return
	}
	var user, pass string
	switch req.mech {
	case "PLAIN":
		parts := bytes.Split(data, []byte{0})
		if len(parts) != 3 || len(parts[0]) > 0 && !bytes.Equal(parts[0], parts[1]) {
			delete(pending, id)
			fmt.Fprintf(c, "FAIL\t%s\treason=malformed PLAIN response or authorization identity\n", id)
			return
		}
		user, pass = string(parts[1]), string(parts[2])
	case "LOGIN":
		if req.username == "" {
			req.username = string(data)
			fmt.Fprintf(c, "CONT\t%s\t%s\n", id, a.challenge(req))
			return
		}
		user, pass = req.username, string(data)
	}
	delete(pending, id)
	if want, ok := a.users[user]; ok && want == pass && !strings.ContainsAny(user, "\t\n") {
		fmt.Fprintf(c, "OK\t%s\tuser=%s\n", id, user)
		return
	}
	fmt.Fprintf(c, "FAIL\t%s\tuser=%s\treason=wrong user name or password\n", id, strings.NewReplacer("\t", " ", "\n", " ").Replace(user))
}
