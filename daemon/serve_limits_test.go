package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// MaxPreLoginConnections in AService.cfg caps the connections not logged
// in of the whole process: with a cap of 3 shared by IMAP and POP, the
// fourth idle connection, on either service, closes the one idle longest,
// which is told why in its protocol's words.
func TestPreLoginCapAcrossServices(t *testing.T) {
	dir := t.TempDir()
	imapAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	popAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	files := map[string]string{
		"AService.cfg":          fmt.Sprintf("default:ServiceList ImapProxyAService@%s PopProxyAService@%s\ndefault:MaxPreLoginConnections 3\ndefault:LogDir log\n", imapAddr, popAddr),
		"ImapProxyAService.cfg": "default:LogLevel 5\n",
		"PopProxyAService.cfg":  "default:LogLevel 5\n",
	}
	os.Mkdir(filepath.Join(dir, "log"), 0o755) // LogDir must exist to be written
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, imapAddr)
	// startDaemon's probe connection has closed; wait until it is gone.
	time.Sleep(200 * time.Millisecond)

	type idle struct {
		c net.Conn
		r *bufio.Reader
	}
	open := func(addr, greeting string) idle {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, greeting) {
			t.Fatalf("greeting %q, %v", l, err)
		}
		time.Sleep(50 * time.Millisecond) // distinct idle times
		return idle{c, r}
	}
	first := open(imapAddr, "* OK")
	second := open(popAddr, "+OK")
	open(imapAddr, "* OK")
	open(popAddr, "+OK") // the fourth: the first one goes

	first.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(first.r)
	if err != nil || !strings.HasPrefix(string(rest), "* BYE Too many connections") {
		t.Errorf("the connection idle longest read %q, %v; want * BYE and the end", rest, err)
	}
	second.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := second.r.ReadByte(); err == nil || !os.IsTimeout(err) {
		t.Errorf("the second connection was closed too (%v)", err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "log", "*"))
	var text []byte
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		text = append(text, b...)
	}
	if !strings.Contains(string(text), "to admit a new one") {
		t.Errorf("no log line for the closed connection in %v:\n%s", logs, text)
	}
}
