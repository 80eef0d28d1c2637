package splice_test

import (
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openmmp/mmp/proxy/proxytest"
	. "github.com/openmmp/mmp/proxy/splice"
)

// echo answers every command line it reads with a reply of the same size,
// as a store answers NOOP, until the connection closes.
func echo(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// BenchmarkRoundTrip is a NOOP-sized round trip (a 14-octet command, a
// reply of the same size) on one connection: directly to an echoing
// store, and through a pipe between two loopback TCP pairs. It reports
// the median and 99th percentile besides the mean, and the CPU time the
// process (client, pipe and store) used per round trip.
func BenchmarkRoundTrip(b *testing.B) {
	msg := []byte("a0001 NOOP\r\n")
	run := func(b *testing.B, c net.Conn) {
		buf := make([]byte, len(msg))
		lat := make([]time.Duration, 0, b.N)
		cpu0 := cpuTime()
		for b.Loop() {
			lat = append(lat, roundTrip(b, c, msg, buf))
		}
		reportLatency(b, lat, cpu0)
	}
	b.Run("direct", func(b *testing.B) {
		c, s := proxytest.TCPPair(b)
		defer c.Close()
		go echo(s)
		defer s.Close()
		run(b, c)
	})
	b.Run("pipe", func(b *testing.B) {
		c, pc := proxytest.TCPPair(b)
		ps, s := proxytest.TCPPair(b)
		defer c.Close()
		go echo(s)
		defer s.Close()
		done := make(chan Result, 1)
		p := Start(pc, ps, time.Minute, nil, nil, func(r Result) { done <- r })
		defer func() { p.Stop(); <-done }()
		run(b, c)
	})
}

// cpuTime is the CPU time the process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleSessionHeap reports the heap an idle pipe holds beyond its two
// connections (go test -run IdleSessionHeap -v): the pipe's state, its
// directions and the poller's entries.
func TestIdleSessionHeap(t *testing.T) {
	const n = 500
	type four struct{ c, pc, ps, s *net.TCPConn }
	conns := make([]four, n)
	for i := range conns {
		c, pc := proxytest.TCPPair(t)
		ps, s := proxytest.TCPPair(t)
		conns[i] = four{c, pc, ps, s}
	}
	defer func() {
		for _, x := range conns {
			x.c.Close()
			x.s.Close()
			x.pc.Close()
			x.ps.Close()
		}
	}()
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// The runtime keeps the descriptor of every goroutine it ever ran;
	// make those the pipes' directions will run exist beforehand.
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 * n {
		wg.Go(func() { <-release })
	}
	close(release)
	wg.Wait()
	base := runtime.NumGoroutine()
	before := heap()
	pipes := make([]Pipe, n)
	for i, x := range conns {
		pipes[i] = Start(x.pc, x.ps, time.Minute, nil, nil, func(Result) {})
		x.c.Write([]byte("a NOOP\r\n"))
		io.ReadFull(x.s, make([]byte, 8))
		x.s.Write([]byte("a OK\r\n"))
		io.ReadFull(x.c, make([]byte, 6))
	}
	proxytest.Settle(5*time.Second, func() bool { return runtime.NumGoroutine() <= base })
	after := heap()
	if f := os.Getenv("SPLICE_HEAP_PROFILE"); f != "" {
		w, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		pprof.WriteHeapProfile(w)
		w.Close()
	}
	t.Logf("%d idle pipes: %d goroutines, heap %.0f octets per pipe beyond its connections",
		n, runtime.NumGoroutine()-base, float64(int64(after)-int64(before))/n)
	for _, p := range pipes {
		p.Stop()
	}
}

// BenchmarkBulk is a 10 MiB transfer from the store to the client, as a
// large FETCH: directly, and through a pipe. It reports the CPU time the
// process used per MB besides the rate.
func BenchmarkBulk(b *testing.B) {
	const size = 10 << 20
	data := make([]byte, size)
	run := func(b *testing.B, c net.Conn, s net.Conn) {
		b.SetBytes(size)
		req := make(chan struct{})
		go func() {
			for range req {
				if _, err := s.Write(data); err != nil {
					return
				}
			}
		}()
		defer close(req)
		buf := make([]byte, 256<<10)
		cpu0 := cpuTime()
		for b.Loop() {
			req <- struct{}{}
			for got := 0; got < size; {
				n, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N)/(size/1e6), "cpu-µs/MB")
	}
	b.Run("direct", func(b *testing.B) {
		c, s := proxytest.TCPPair(b)
		defer c.Close()
		defer s.Close()
		run(b, c, s)
	})
	b.Run("pipe", func(b *testing.B) {
		c, pc := proxytest.TCPPair(b)
		ps, s := proxytest.TCPPair(b)
		defer c.Close()
		defer s.Close()
		done := make(chan Result, 1)
		p := Start(pc, ps, time.Minute, nil, nil, func(r Result) { done <- r })
		defer func() { p.Stop(); <-done }()
		run(b, c, s)
	})
}

// BenchmarkRoundTripParked is BenchmarkRoundTrip on sessions whose
// directions are parked when the command comes: parkAfter is 1 ms, and
// the round trips go to 100 sessions in turn, each quiet for longer than
// that in between, so that every hop is a wake by the poller.
func BenchmarkRoundTripParked(b *testing.B) {
	defer SetParkAfter(SetParkAfter(time.Millisecond))
	const n = 100
	msg := []byte("a0001 NOOP\r\n")
	cs := make([]net.Conn, n)
	for i := range cs {
		c, pc := proxytest.TCPPair(b)
		ps, s := proxytest.TCPPair(b)
		go echo(s)
		done := make(chan Result, 1)
		p := Start(pc, ps, time.Minute, nil, nil, func(r Result) { done <- r })
		defer func() { c.Close(); s.Close(); p.Stop(); <-done }()
		cs[i] = c
	}
	time.Sleep(10 * time.Millisecond)
	buf := make([]byte, len(msg))
	lat := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		c := cs[i%n]
		i++
		if i%n == 0 {
			time.Sleep(2 * time.Millisecond) // let the last ones park
		}
		lat = append(lat, roundTrip(b, c, msg, buf))
	}
	reportLatency(b, lat, cpu0)
}

// roundTrip writes msg to c and reads its echo into buf.
func roundTrip(b *testing.B, c net.Conn, msg, buf []byte) time.Duration {
	t0 := time.Now()
	if _, err := c.Write(msg); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0)
}

// reportLatency reports the process's CPU per round trip since cpu0 and
// the p50 and p99 of lat.
func reportLatency(b *testing.B, lat []time.Duration, cpu0 time.Duration) {
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(len(lat)), "cpu-µs/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
