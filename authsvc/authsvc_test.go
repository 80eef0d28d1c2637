package authsvc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func ip(s string) netip.Addr         { return netip.MustParseAddr(s) }
func lookup(c *Cache, a string) (string, bool) {
	u, ok, _ := c.Lookup(context.Background(), ip(a))
	return u, ok
}

func TestCacheTTL(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := New(Options{TTL: 10 * time.Minute, Now: clk.now})
	c.Record(ip("203.0.113.9"), "alice@siroe.com")
	if u, ok := lookup(c, "203.0.113.9"); !ok || u != "alice@siroe.com" {
		t.Fatalf("Lookup = %q, %v; want alice@siroe.com, true", u, ok)
	}
	if u, ok := lookup(c, "::ffff:203.0.113.9"); !ok || u != "alice@siroe.com" {
		t.Errorf("IPv4-mapped Lookup = %q, %v", u, ok)
	}
	if _, ok := lookup(c, "203.0.113.10"); ok {
		t.Errorf("another address is not logged in")
	}
	clk.add(9 * time.Minute)
	c.Record(ip("198.51.100.1"), "bob")
	clk.add(59 * time.Second)
	if _, ok := lookup(c, "203.0.113.9"); !ok {
		t.Errorf("forgotten before the TTL")
	}
	clk.add(time.Second)
	if _, ok := lookup(c, "203.0.113.9"); ok {
		t.Errorf("still remembered at the TTL")
	}
	if _, ok := lookup(c, "198.51.100.1"); !ok || c.Len() != 1 {
		t.Errorf("the later login expired too early (len %d)", c.Len())
	}
	// A new login renews the address.
	c.Record(ip("198.51.100.1"), "bob")
	clk.add(9 * time.Minute)
	if _, ok := lookup(c, "198.51.100.1"); !ok {
		t.Errorf("a renewed login expired")
	}
}

func TestCacheOffAndBound(t *testing.T) {
	off := New(Options{TTL: -1})
	off.Record(ip("10.0.0.1"), "x")
	if off.Len() != 0 {
		t.Errorf("AuthServiceTTL -1 recorded a login")
	}
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := New(Options{TTL: time.Hour, Max: 3, Now: clk.now})
	for i := 1; i <= 5; i++ {
		c.Record(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), fmt.Sprint("u", i))
		clk.add(time.Second)
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want the bound 3", c.Len())
	}
	if _, ok := lookup(c, "10.0.0.2"); ok {
		t.Errorf("the oldest login survived the bound")
	}
	if u, ok := lookup(c, "10.0.0.5"); !ok || u != "u5" {
		t.Errorf("the newest login was evicted")
	}
}

// fakePOP answers XQUERYAUTH like the POP proxy does.
func fakePOP(t *testing.T, reply func(arg string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				fmt.Fprintf(conn, "+OK POP ready\r\n")
				br := bufio.NewReader(conn)
				line, _ := br.ReadString('\n')
				arg, _ := strings.CutPrefix(strings.TrimSpace(line), "XQUERYAUTH ")
				fmt.Fprintf(conn, "%s\r\n", reply(arg))
				br.ReadString('\n')
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRemote(t *testing.T) {
	addr := fakePOP(t, func(arg string) string {
		switch arg {
		case "203.0.113.9":
			return "+OK alice@siroe.com"
		case "10.9.9.9":
			return "-ERR " + NotAvailable
		}
		return "-ERR no recent login"
	})
	r := Remote{Addr: addr}
	ctx := context.Background()
	if u, ok, err := r.Lookup(ctx, ip("::ffff:203.0.113.9")); err != nil || !ok || u != "alice@siroe.com" {
		t.Errorf("Lookup = %q, %v, %v", u, ok, err)
	}
	if _, ok, err := r.Lookup(ctx, ip("198.51.100.7")); err != nil || ok {
		t.Errorf("Lookup(not logged in) = %v, %v", ok, err)
	}
	if _, _, err := r.Lookup(ctx, ip("10.9.9.9")); !errors.Is(err, ErrRefused) {
		t.Errorf("Lookup(refused) error = %v, want ErrRefused", err)
	}
	// A POP proxy that never answers does not hang the SMTP session.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	start := time.Now()
	_, _, err := Remote{Addr: ln.Addr().String(), Timeout: 100 * time.Millisecond}.Lookup(ctx, ip("1.2.3.4"))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("silent POP proxy: err %v after %v", err, time.Since(start))
	}
}
