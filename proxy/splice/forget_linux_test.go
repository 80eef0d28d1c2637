package splice

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/openmmp/mmp/proxy/proxytest"
)

// A session that ends leaves nothing behind in the process-wide state:
// the idle timer's heap and the poller's table hold only live pipes.
func TestEndedPipesForgotten(t *testing.T) {
	const n = 20
	type sess struct {
		c, s *net.TCPConn
		done chan Result
	}
	var ss []sess
	for range n {
		c, pc := proxytest.TCPPair(t)
		ps, s := proxytest.TCPPair(t)
		done := make(chan Result, 1)
		Start(pc, ps, time.Minute, nil, nil, func(r Result) { done <- r })
		io.WriteString(c, "a NOOP\r\n")
		io.ReadFull(s, make([]byte, 8))
		ss = append(ss, sess{c, s, done})
	}
	// Idle sessions are queued for their idle timeout once parked.
	proxytest.Settle(5*time.Second, func() bool { return queued() >= n })
	for _, x := range ss {
		x.c.Close()
		x.s.Close()
		select {
		case <-x.done:
		case <-time.After(5 * time.Second):
			t.Fatal("a session did not end")
		}
	}
	if q, p := queued(), parked(); q != 0 || p != 0 {
		t.Errorf("after the sessions ended: %d pipes in the idle heap, %d directions in the poller, want none", q, p)
	}
}

func queued() int {
	sleepers.mu.Lock()
	defer sleepers.mu.Unlock()
	return len(sleepers.h)
}

// parked counts the directions the poller knows.
func parked() int {
	pl := &thePoller
	pl.mu.Lock()
	defer pl.mu.Unlock()
	n := 0
	for _, d := range pl.dirs {
		if d != nil {
			n++
		}
	}
	return n
}
