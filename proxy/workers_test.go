package proxy_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/proxy/proxytest"
)

// slowDirectory takes its time over each lookup and counts how many run
// at once.
type slowDirectory struct {
	*proxytest.Directory
	delay     time.Duration
	now, most atomic.Int32
}

func (d *slowDirectory) Lookup(ctx context.Context, q account.Query) (*account.User, error) {
	n := d.now.Add(1)
	defer d.now.Add(-1)
	for {
		m := d.most.Load()
		if n <= m || d.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(d.delay)
	return d.Directory.Lookup(ctx, q)
}

// NumThreads (proxy.Workers) bounds the directory operations that run at
// once: with 1, four simultaneous logins look their users up one after
// the other; with 4, together.
func TestWorkersBoundDirectoryOperations(t *testing.T) {
	for _, n := range []int{1, 4} {
		dir := &slowDirectory{Directory: &proxytest.Directory{Passwords: map[string]string{"uid=alice": "pw"}}, delay: 200 * time.Millisecond}
		dir.SetUser("alice", &account.User{DN: "uid=alice", MailHosts: []string{"127.0.0.1"}})
		svc := proxytest.Service(t, map[string]string{"BGExcluded": "127.0.0.0/8"}, "")
		srv := proxy.NewServer(proxy.Options{Service: svc, Protocol: &routeProto{}, Directory: dir, Workers: proxy.NewWorkers(n)})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				c.Write([]byte("alice\n"))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || strings.TrimSpace(line) != "OK" {
					t.Errorf("login: %q, %v", line, err)
				}
			}()
		}
		wg.Wait()
		srv.Close()
		if got := int(dir.most.Load()); got != n {
			t.Errorf("Workers(%d): %d lookups at once, want %d", n, got, n)
		}
	}
	if got := proxy.NewWorkers(0).Size(); got < 1 {
		t.Errorf("NewWorkers(0).Size() = %d, want the number of CPUs", got)
	}
}
