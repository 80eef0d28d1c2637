package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/redis"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// BenchmarkFleet measures what the fleet's shared state costs a login
// (docs/reference.md §4.9): IMAP logins per second through three
// ImapProxy processes in front of one Dovecot, in alternating rounds of
// one run: without FleetRedis, with it (a private redis-server on
// loopback), and with it and MaxUserSessions (the user's lease at
// login). It also counts the Redis commands each login cost, from
// INFO commandstats.
//
//	go test -run '^$' -bench Fleet -timeout 10m ./bench/
func BenchmarkFleet(b *testing.B) {
	raiseNoFile(1 << 16)
	var opts []dovecot.Option
	for i := range numUsers {
		opts = append(opts, dovecot.WithUser(userName(i), password))
	}
	e := &env{}
	e.store = dovecot.Start(b, append(opts, dovecot.WithConfig(dovecotTuning))...)
	e.ldap = slapd.Start(b, slapd.WithLDIF(ldif(e.store.Host)))
	r := redis.Start(b)
	bin := buildMMP(b, false)
	// A call timeout well above the default's 50 ms: the row measures
	// what Redis costs a login, not the breaker of a machine the
	// benchmark saturates (outages are reported if there are any).
	fleet := []string{"--FleetRedis", r.URL(), "--FleetCallTimeout", "1000"}
	off, _ := startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, false, imapReady)
	on, _ := startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, false, imapReady, fleet...)
	users, _ := startMMP(b, bin, "ImapProxy", e, e.store.IMAPPort, false, imapReady, append(fleet, "--MaxUserSessions", "100")...)
	paths := []struct {
		name string
		addr string
	}{{"fleet off", off.addr}, {"FleetRedis", on.addr}, {"FleetRedis, MaxUserSessions", users.addr}}
	for i := 0; i < b.N; i++ {
		rates := make([][]float64, len(paths))
		hot := make([]float64, len(paths))
		cold := make([]float64, len(paths))
		for range *flagRounds {
			for j, p := range paths {
				h0, c0 := redisCalls(b, r)
				rate, n, err := measureLogins(p.addr, *flagClients, *flagLoginTime)
				if err != nil {
					b.Fatalf("%s: %v", p.name, err)
				}
				rates[j] = append(rates[j], rate)
				h1, c1 := redisCalls(b, r)
				hot[j], cold[j] = float64(h1-h0)/float64(n), float64(c1-c0)/float64(n)
			}
		}
		for _, m := range []*mmpProc{off, on, users} {
			if err := m.alive(); err != nil {
				b.Fatal(err)
			}
		}
		fmt.Printf("\n| IMAP logins/s, %d clients, %d rounds of %v | logins/s (median) | rounds | Redis calls per login: on its path, off it |\n|---|---|---|---|\n",
			*flagClients, *flagRounds, *flagLoginTime)
		for j, p := range paths {
			var rs []string
			for _, v := range rates[j] {
				rs = append(rs, strconv.FormatFloat(v, 'f', 0, 64))
			}
			fmt.Printf("| %s | %.0f | %s | %.2f, %.2f |\n", p.name, median(rates[j]), strings.Join(rs, ", "), hot[j], cold[j])
		}
		for _, m := range []*mmpProc{on, users} {
			if n := outages(m); n > 0 {
				fmt.Printf("%s: %d Redis outages logged (FleetCallTimeout exceeded): the rates include logins on local state\n", m.addr, n)
			}
		}
		b.ReportMetric(median(rates[0]), "logins/s-off")
		b.ReportMetric(median(rates[1]), "logins/s-redis")
		b.ReportMetric(median(rates[2]), "logins/s-redis-users")
	}
}

// redisCalls counts the calls clients made to Redis so far, from INFO
// commandstats: hot are the scripts (EVALSHA, EVAL), cold the releases
// and forgiveness (ZREM, DEL). The commands a script runs are counted by
// Redis too, and left out here: they are not round trips.
func redisCalls(b *testing.B, r *redis.Server) (hot, cold int64) {
	for _, l := range strings.Split(r.Cli(b, "INFO", "commandstats"), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		switch name {
		case "cmdstat_evalsha", "cmdstat_eval":
			hot += n
		case "cmdstat_zrem", "cmdstat_del":
			cold += n
		}
	}
	return hot, cold
}

// outages counts the "unreachable" lines in an MMP's log.
func outages(m *mmpProc) int {
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(m.out), "log", "*.log"))
	n := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		n += strings.Count(string(data), "fleet: Redis at") - strings.Count(string(data), "answers again")
	}
	return n
}
