//go:build linux

package proxy_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The attack: logged-in clients start a large FETCH and never read. The
// store keeps sending, and the kernel parks what the MMP cannot deliver
// in the session's socket buffers and splice pipe: 100 such sessions held
// about 1.1 GB, 11 MB each (the client socket's send queue autotuned to
// 4 MB, the store socket's receive queue to 6 MB, a 1 MiB pipe). A
// session must hold at most stalledBound.
const stalledBound = 512 << 10

// fireHose is a store that, once the session's line arrives, sends until
// the connection is closed.
func fireHose(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// held is the kernel memory of the MMP's side of the sessions, in octets:
// the receive queue (rmem_alloc) and send queue (wmem_queued) of its
// client and store sockets, as SO_MEMINFO reports them (the skmem of
// ss -m), and the octets in the process's pipes (the splice pipes).
type held struct {
	clientRecv, clientSend, storeRecv, storeSend, pipes int
}

func (h held) total() int { return h.clientRecv + h.clientSend + h.storeRecv + h.storeSend + h.pipes }

func (h held) String() string {
	return fmt.Sprintf("client socket receive %s, send %s; store socket receive %s, send %s; pipes %s",
		kib(h.clientRecv), kib(h.clientSend), kib(h.storeRecv), kib(h.storeSend), kib(h.pipes))
}

// kernelMemory measures held for the sockets of this process with local
// port mmp (the MMP's client connections) or remote port store (its
// store connections).
func kernelMemory(t *testing.T, mmp, store int) held {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var h held
	seenPipe := map[string]bool{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(link, "socket:"):
			side := sideOf(fd, mmp, store)
			if side == "" {
				continue
			}
			var mi [unix.SK_MEMINFO_VARS]uint32
			l := uint32(unsafe.Sizeof(mi))
			if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
				uintptr(unsafe.Pointer(&mi)), uintptr(unsafe.Pointer(&l)), 0); errno != 0 {
				continue // closed meanwhile
			}
			r, w := int(mi[unix.SK_MEMINFO_RMEM_ALLOC]), int(mi[unix.SK_MEMINFO_WMEM_QUEUED])
			if side == "client" {
				h.clientRecv += r
				h.clientSend += w
			} else {
				h.storeRecv += r
				h.storeSend += w
			}
		case strings.HasPrefix(link, "pipe:") && !seenPipe[link]:
			seenPipe[link] = true
			if n, err := unix.IoctlGetInt(fd, unix.TIOCINQ); err == nil { // FIONREAD
				h.pipes += n
			}
		}
	}
	return h
}

// sideOf says whether socket fd is one of the MMP's: "client" if bound to
// port mmp (and connected), "store" if connected to port store.
func sideOf(fd, mmp, store int) string {
	port := func(sa unix.Sockaddr) int {
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			return a.Port
		case *unix.SockaddrInet6:
			return a.Port
		}
		return -1
	}
	local, err1 := unix.Getsockname(fd)
	remote, err2 := unix.Getpeername(fd)
	switch {
	case err1 != nil || err2 != nil:
		return ""
	case port(local) == mmp:
		return "client"
	case port(remote) == store:
		return "store"
	}
	return ""
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Logged-in sessions whose client never reads while the store sends (a
// large FETCH): the kernel memory they hold stays under stalledBound
// each. And the same when the client also sends without end (a large
// APPEND) to a store that does not read: both directions stalled.
func TestStalledSessionsKernelMemory(t *testing.T) {
	for _, upload := range []bool{false, true} {
		name := map[bool]string{false: "FETCH", true: "FETCH and APPEND"}[upload]
		t.Run(name, func(t *testing.T) { stalledSessions(t, upload) })
	}
}

func stalledSessions(t *testing.T, upload bool) {
	const sessions = 20
	store := fireHose(t)
	_, addr := startServer(t, &linkProto{store: store}, map[string]string{"ConnLimits": "0.0.0.0|0.0.0.0:100"})
	for range sessions {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.Write([]byte("FETCH\r\n")) // logs in; then never reads
		if upload {
			go func() {
				chunk := []byte(strings.Repeat("y", 64<<10))
				for {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}
	// Wait until the memory held stops growing: the buffers are full.
	mmp, st := portOf(t, addr), portOf(t, store)
	var h held
	last, stable := 0, 0
	for deadline := time.Now().Add(30 * time.Second); stable < 5 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		h = kernelMemory(t, mmp, st)
		if n := h.total(); n > 0 && n <= last+last/100 {
			stable++
		} else {
			stable = 0
		}
		last = max(last, h.total())
	}
	per := h.total() / sessions
	t.Logf("%d stalled sessions hold %s: %s each (%s)", sessions, kib(h.total()), kib(per), h)
	if per > stalledBound {
		t.Errorf("a stalled session holds %s of kernel memory, want at most %s", kib(per), kib(stalledBound))
	}
}

func kib(n int) string { return fmt.Sprintf("%d KiB", n>>10) }
