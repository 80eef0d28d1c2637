package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// scrape reads /metrics into series → value; a series is written as the
// exposition format writes it: name{label="v",...} with sorted labels.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

func healthz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// MetricsListen: the numbers on /metrics are what the sessions did, and
// /healthz turns 503 when the directory stops. The counters are the
// process's, shared with earlier tests, so counters are compared before
// and after; gauges of this daemon are compared as they are.
func TestMetricsAndHealth(t *testing.T) {
	env := twostores.Start(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	maddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	files := map[string]string{
		"AService.cfg": fmt.Sprintf("default:ServiceList ImapProxyAService@%s\ndefault:MetricsListen %s\n", addr, maddr),
		"ImapProxyAService.cfg": fmt.Sprintf("default:LdapUrl \"ldap://%s:%d/%s\"\ndefault:BindDN \"%s\"\ndefault:BindPass %s\n"+
			"default:AuthFailureDelay 0\ndefault:BacksidePort %d\n",
			env.LDAP.Host, env.LDAP.Port, env.LDAP.BaseDN, env.LDAP.ProxyDN, env.LDAP.ProxyPass, env.IMAPPort),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startDaemon(t, "AService", []string{"-c", dir}, addr)
	base := "http://" + maddr
	store1 := fmt.Sprintf("%s:%d", twostores.Store1, env.IMAPPort)
	store2 := fmt.Sprintf("%s:%d", twostores.Store2, env.IMAPPort)
	before := scrape(t, base)

	alice, bob, guesser := dialIMAP(t, addr), dialIMAP(t, addr), dialIMAP(t, addr)
	for _, l := range []struct {
		cl    *imapClient
		login string
		want  string
	}{
		{alice, "LOGIN alice alicepw", "OK"},
		{bob, "LOGIN bob bobpw", "OK"},
		{guesser, "LOGIN alice wrongpw", "NO"},   // the lookup cache answers; the store refuses
		{guesser, "LOGIN nobody nobodypw", "NO"}, // no such user: no store
	} {
		if _, tagged := l.cl.cmd("%s", l.login); !strings.HasPrefix(tagged, fmt.Sprintf("t%d %s", l.cl.seq, l.want)) {
			t.Fatalf("%s: %s", l.login, tagged)
		}
	}
	during := scrape(t, base)
	delta := func(m map[string]float64, series string) float64 { return m[series] - before[series] }
	for _, c := range []struct {
		series string
		got    float64
		want   float64
	}{
		{`mmp_logins_total{outcome="logged in",service="imap"}`, delta(during, `mmp_logins_total{outcome="logged in",service="imap"}`), 2},
		{`mmp_logins_total{outcome="bad credentials",service="imap"}`, delta(during, `mmp_logins_total{outcome="bad credentials",service="imap"}`), 2},
		{`mmp_sessions_active{service="imap"}`, during[`mmp_sessions_active{service="imap"}`], 3},
		{`mmp_sessions_logged_in{service="imap",store="` + store1 + `"}`, during[`mmp_sessions_logged_in{service="imap",store="`+store1+`"}`], 1},
		{`mmp_sessions_logged_in{service="imap",store="` + store2 + `"}`, during[`mmp_sessions_logged_in{service="imap",store="`+store2+`"}`], 1},
		{"store1 connects", delta(during, `mmp_store_connect_seconds_count{store="`+store1+`"}`), 2},
		{"store2 connects", delta(during, `mmp_store_connect_seconds_count{store="`+store2+`"}`), 1},
		{"store failures", delta(during, `mmp_store_connect_failures_total{store="`+store1+`"}`), 0},
		{"LDAP searches", delta(during, "mmp_ldap_lookup_seconds_count"), 3},
		{"cache misses", delta(during, `mmp_ldap_cache_lookups_total{result="miss"}`), 3},
		{"cache hits", delta(during, `mmp_ldap_cache_lookups_total{result="hit"}`), 1},
		{`mmp_badguys{service="imap"}`, during[`mmp_badguys{service="imap"}`], 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.series, c.got, c.want)
		}
	}

	// The bytes piped after the login: what alice sends and reads from
	// then until the store closes.
	sent, read := 0, 0
	for _, cmd := range []string{"NOOP", "LOGOUT"} {
		all, _ := alice.cmd("%s", cmd)
		sent += len(fmt.Sprintf("t%d %s\r\n", alice.seq, cmd))
		read += len(all)
	}
	rest, _ := io.ReadAll(alice.r)
	read += len(rest)
	alice.c.Close() // the pipe half-closes; the session ends when both sides have
	deadline := time.Now().Add(10 * time.Second)
	var after map[string]float64
	for {
		after = scrape(t, base)
		if after[`mmp_sessions_logged_in{service="imap",store="`+store1+`"}`] == 0 && after[`mmp_sessions_active{service="imap"}`] == 2 {
			// A scrape is no snapshot: the bytes may have been read
			// before the session ended; the next scrape has them.
			after = scrape(t, base)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's session is still counted after LOGOUT: logged in %v, active %v (want 0, 2)",
				after[`mmp_sessions_logged_in{service="imap",store="`+store1+`"}`], after[`mmp_sessions_active{service="imap"}`])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := delta(after, `mmp_relayed_bytes_total{direction="from_client",service="imap"}`); got != float64(sent) {
		t.Errorf("bytes from client: %v, want %d", got, sent)
	}
	if got := delta(after, `mmp_relayed_bytes_total{direction="from_store",service="imap"}`); got != float64(read) {
		t.Errorf("bytes from store: %v, want %d", got, read)
	}

	if code, body := healthz(t, base); code != 200 {
		t.Fatalf("/healthz with everything up: %d %s", code, body)
	}
	env.LDAP.Stop()
	deadline = time.Now().Add(20 * time.Second)
	for {
		code, body := healthz(t, base)
		if code == http.StatusServiceUnavailable && strings.Contains(body, "directory") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz with slapd stopped: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
