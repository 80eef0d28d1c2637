package who

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
)

// A peer that is neither root nor the MMP's user is refused by its
// credentials even when the socket's mode lets it connect.
func TestPeerRefused(t *testing.T) {
	if os.Getenv("WHO_PEER_SOCKET") != "" {
		return // the helper's own run: see TestMain
	}
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root, to run the peer as another user")
	}
	dir, err := os.MkdirTemp("", "who")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := SocketPath(dir, 7)
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(filepath.Dir(path), 0o755)
	os.Chmod(path, 0o666) // loosened by mistake
	go Serve(ln, func(Request) Reply { return Reply{MMP: "secret"} })
	// The test binary, where user nobody may run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "peer")
	src, _ := os.Open(self)
	dst, _ := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	io.Copy(dst, src)
	src.Close()
	dst.Close()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{"WHO_PEER_SOCKET=" + path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "uid 65534 may not ask this MMP") || strings.Contains(string(out), "secret") {
		t.Errorf("peer as uid 65534 got %q, want a refusal", out)
	}
}

func TestMain(m *testing.M) {
	if path := os.Getenv("WHO_PEER_SOCKET"); path != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rep, err := Ask(ctx, path, Request{Op: OpList})
		fmt.Println(rep.MMP, err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
