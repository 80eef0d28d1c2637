package splice

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/openmmp/mmp/proxy/proxytest"
)

// End while the poller relays an occasional line (wakeSmall): each
// session is parked when its store and its client each send a line, and
// End comes at once or a few microseconds later, before, during or after
// the poller's relay. Every client reads the line or nothing, then the
// goodbye, then the end of stream (a direction the poller parked again,
// or left to a goroutine, would keep the session until the grace is over
// and lose the goodbye); every session ends cleanly and leaves nothing
// in the idle heap, the poller's table or End's table.
func TestEndWhilePollerRelays(t *testing.T) {
	const n = 40
	line := []byte("* 4 EXISTS\r\n")
	bye := []byte("* BYE Disconnected by the administrator\r\n")
	type sess struct {
		c, s *net.TCPConn
		pipe Pipe
		done chan Result
	}
	ss := make([]sess, n)
	for i := range ss {
		c, pc := proxytest.TCPPair(t)
		ps, s := proxytest.TCPPair(t)
		done := make(chan Result, 1)
		pipe := Start(pc, ps, time.Minute, nil, nil, func(r Result) { done <- r })
		t.Cleanup(pipe.Stop)
		ss[i] = sess{c, s, pipe, done}
	}
	// All directions park (parkAfter of quiet), which queues the pipes.
	proxytest.Settle(5*time.Second, func() bool { return queued() >= n && parked() >= 2*n })
	reads := make([]chan []byte, n)
	for i, x := range ss {
		reads[i] = make(chan []byte, 1)
		go func() {
			x.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, _ := io.ReadAll(x.c)
			reads[i] <- b
		}()
		x.s.Write(line)
		x.c.Write([]byte("a NOOP\r\n"))
		for t0 := time.Now(); time.Since(t0) < time.Duration(i%20)*5*time.Microsecond; {
		}
		x.pipe.End(bye)
	}
	for i, x := range ss {
		select {
		case r := <-x.done:
			if r.Err != nil || r.Idle {
				t.Errorf("session %d: Start after End = %+v, want a clean close", i, r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("session %d did not end", i)
		}
		got := <-reads[i]
		if body, ok := bytes.CutSuffix(got, bye); !ok || len(body) != 0 && !bytes.Equal(body, line) {
			t.Errorf("session %d: client read %q, want %q or nothing, then %q", i, got, line, bye)
		}
	}
	if q, p, e := queued(), parked(), ending(); q != 0 || p != 0 || e != 0 {
		t.Errorf("after the sessions ended: %d pipes in the idle heap, %d directions in the poller, %d in End's table; want none", q, p, e)
	}
}

func ending() int {
	endings.mu.Lock()
	defer endings.mu.Unlock()
	return len(endings.m)
}
