package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cpuUse is the CPU time the processes involved used during a measurement.
type cpuUse struct {
	wall               float64 // seconds
	mmp, store, client float64 // CPU seconds
	mmpSys             float64 // the MMP's CPU seconds in the kernel
	auth               float64 // for nginx: the auth_http service's CPU seconds, part of mmp
	machine            float64 // CPU seconds of the whole machine (all cores, not idle)
}

func (c *cpuUse) add(o cpuUse) {
	c.wall += o.wall
	c.mmp += o.mmp
	c.mmpSys += o.mmpSys
	c.auth += o.auth
	c.store += o.store
	c.client += o.client
	c.machine += o.machine
}

// rest is the CPU time of everything else: other processes, kernel
// threads, interrupt handling.
func (c cpuUse) rest() float64 { return max(0, c.machine-c.mmp-c.store-c.client) }

// pct is CPU seconds as a percentage of one core over the wall time.
func (c cpuUse) pct(v float64) float64 {
	if c.wall == 0 {
		return 0
	}
	return 100 * v / c.wall
}

// meter takes CPU snapshots of the MMP, the store's process group and this
// process. For the nginx column, nginx's process group (master and
// workers) and its auth_http service take the MMP's place.
type meter struct {
	mmpPid, storePgid  int
	nginxPgid, authPid int
}

func (m meter) snap() cpuUse {
	c := cpuUse{
		wall:    float64(time.Now().UnixNano()) / 1e9,
		store:   groupCPU(m.storePgid),
		machine: machineCPU(),
	}
	if m.nginxPgid != 0 {
		c.mmp, c.mmpSys, c.auth = nginxCPU(m.nginxPgid, m.authPid)
	} else {
		c.mmp, c.mmpSys = procCPU(m.mmpPid)
	}
	c.client, _ = procCPU(os.Getpid())
	return c
}

func (m meter) since(a cpuUse) cpuUse {
	b := m.snap()
	return cpuUse{wall: b.wall - a.wall, mmp: b.mmp - a.mmp, mmpSys: b.mmpSys - a.mmpSys, auth: b.auth - a.auth, store: b.store - a.store,
		client: b.client - a.client, machine: b.machine - a.machine}
}

// measureLogins runs clients goroutines, each logging in and out as its
// own user over and over for d, and returns logins per second and their
// number.
func measureLogins(addr string, clients int, d time.Duration) (float64, int64, error) {
	return measureRate(clients, d, func(user string) error {
		cl, err := login(addr, user, password)
		if err == nil {
			err = cl.logout()
		}
		return err
	})
}

// measureRate runs clients goroutines, each calling once with its own user
// over and over for d, and returns calls per second and their number.
func measureRate(clients int, d time.Duration, once1 func(user string) error) (float64, int64, error) {
	var count atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := userName(i)
			for time.Now().Before(deadline) {
				if err := once1(user); err != nil {
					once.Do(func() { first = err })
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, 0, first
	}
	return float64(count.Load()) / time.Since(start).Seconds(), count.Load(), nil
}

// measureFetch fetches message 1 (the big one) over cl for at least d and
// returns MB/s (10^6 octets per second, counting the literal) and the
// octets fetched.
func measureFetch(cl *client, d time.Duration) (float64, int64, error) {
	var total int64
	start := time.Now()
	for time.Since(start) < d {
		n, err := cl.do("FETCH 1 BODY.PEEK[]")
		if err != nil {
			return 0, 0, err
		}
		if n != bigSize {
			return 0, 0, fmt.Errorf("FETCH returned a literal of %d octets, want %d", n, bigSize)
		}
		total += n
	}
	return float64(total) / time.Since(start).Seconds() / 1e6, total, nil
}

// measureNoop times n NOOP round trips.
func measureNoop(cl *client, n int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if _, err := cl.do("NOOP"); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	return lat, nil
}

// percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// openIdle opens n logged-in sessions with workers in parallel and keeps
// them: the users take turns so that no user has more than n/numUsers.
func openIdle(addr string, n, workers int) ([]net.Conn, time.Duration, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				cl, err := login(addr, userName(i), password)
				if err != nil {
					once.Do(func() { first = fmt.Errorf("session %d: %w", i, err) })
					next.Store(int64(n))
					return
				}
				cl.c.SetDeadline(time.Time{})
				conns[i] = cl.c
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if first != nil {
		closeAll(conns)
		return nil, took, first
	}
	return conns, took, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// countEstablished counts established TCP connections whose local port
// is port (IPv4 loopback), from /proc/net/tcp.
func countEstablished(port int) int {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return -1
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 3 && strings.HasSuffix(fl[1], want) && fl[3] == "01" {
			n++
		}
	}
	return n
}

// waitFor polls cond every 50 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// settle samples read every 500 ms until two samples in a row differ by
// less than 0.5 % (at least 1 s, at most 10 s) and returns the last.
func settle(read func() int64) int64 {
	time.Sleep(time.Second)
	prev := read()
	for range 18 {
		time.Sleep(500 * time.Millisecond)
		cur := read()
		d := cur - prev
		if d < 0 {
			d = -d
		}
		if d*200 < max(cur, 1) {
			return cur
		}
		prev = cur
	}
	return prev
}

// fdCount is the number of open descriptors of a process.
func fdCount(pid int) int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// fdKinds counts a process's descriptors by kind (socket, pipe, ...).
func fdKinds(pid int) map[string]int {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, _ := os.ReadDir(dir)
	kinds := map[string]int{}
	for _, e := range ents {
		link, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		kind := "file"
		if i := strings.Index(link, ":"); i > 0 && !strings.HasPrefix(link, "/") {
			kind = link[:i]
		}
		kinds[kind]++
	}
	return kinds
}

// goView is the Go runtime's own view of the MMP's memory, served by
// bench/imapproxy-gcview after a forced collection.
type goView struct {
	HeapAlloc    uint64 // live heap after the collection
	HeapInuse    uint64
	StackInuse   uint64
	MSpanInuse   uint64
	OtherSys     uint64
	Sys          uint64
	HeapReleased uint64
	Goroutines   int
	NumGC        uint32
}

func readGoView(addr string) (goView, error) {
	var v goView
	resp, err := http.Get("http://" + addr + "/gcview")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v, err
}
