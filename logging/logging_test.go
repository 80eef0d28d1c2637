package logging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmmp/mmp/logging"
)

// cest is the zone of the reference's sample lines (+0200).
var cest = time.FixedZone("CEST", 2*3600)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// syncBuffer is a bytes.Buffer safe to read while the logger writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (s *syncBuffer) Reset() { s.mu.Lock(); s.b.Reset(); s.mu.Unlock() }

// open starts a Logger with the host, pid and time of the reference's first
// sample line, adjusted by the caller's changes, and closes it at the end.
func open(t *testing.T, change func(*logging.Options)) (*logging.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	o := logging.Options{
		Level:  10,
		Proc:   "ImapProxy",
		Host:   "mmp1",
		Pid:    12607,
		Stderr: buf,
		Now:    func() time.Time { return time.Date(2019, 7, 2, 11, 26, 57, 0, cest) },
	}
	if change != nil {
		change(&o)
	}
	lg, err := logging.Open(o)
	if err != nil {
		t.Fatalf("Open(%+v) = %v", o, err)
	}
	t.Cleanup(func() { _ = lg.Close() })
	return lg, buf
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLineFormat(t *testing.T) {
	tests := []struct {
		name string
		log  func(lg *logging.Logger)
		want string
	}{
		{
			"spec sample 1, Notice in a session",
			func(lg *logging.Logger) {
				logging.Notice(lg.Session(1019831), "badguy 192.12.87.25 now has 3 badness")
			},
			"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Notice: (id 1019831) badguy 192.12.87.25 now has 3 badness\n",
		},
		{
			"spec sample 2, Error in a session",
			func(lg *logging.Logger) {
				lg.Session(1022591).Error("client socket IO error: Connection reset by peer (104)")
			},
			"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Error: (id 1022591) client socket IO error: Connection reset by peer (104)\n",
		},
		{
			"no session, no id",
			func(lg *logging.Logger) {
				logging.Notice(lg.Slog(), "ImapProxy(ImapProxyAService.cfg): exiting")
			},
			"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Notice: ImapProxy(ImapProxyAService.cfg): exiting\n",
		},
		{
			"every severity word",
			func(lg *logging.Logger) {
				l := lg.Slog()
				logging.Trace(l, "t")
				l.Debug("d")
				l.Info("i")
				logging.Notice(l, "n")
				l.Warn("w")
				l.Error("e")
				logging.Critical(l, "c")
			},
			"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Debug: t\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Debug: d\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Information: i\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Notice: n\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Warning: w\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Error: e\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Critical: c\n",
		},
		{
			"attributes, quoting",
			func(lg *logging.Logger) {
				lg.Session(7).Info("login", "user", "joe@siroe.com", "client", "203.0.113.9:5234",
					"note", "two words", "n", 3, "ok", true, "empty", "", "q", `a"b`, "eq", "a=b",
					"took", 1500*time.Millisecond, "err", errors.New("connection refused"))
			},
			"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Information: (id 7) login" +
				` user=joe@siroe.com client=203.0.113.9:5234 note="two words" n=3 ok=true empty="" q="a\"b" eq="a=b"` +
				` took=1.5s err="connection refused"` + "\n",
		},
		{
			"category on the call and with With",
			func(lg *logging.Logger) {
				lg.Slog().Error("bind failed", logging.Category("LDAP"), "host", "ldap1")
				ldap := lg.Session(9).With(logging.Category("LDAP"), "url", "ldap://ldap1")
				logging.Notice(ldap, "domain 'example.fr' not found in LDAP (-1 )")
				ldap.Warn("override", logging.Category("Cache"))
			},
			"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: LDAP Error: bind failed host=ldap1\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: LDAP Notice: (id 9) domain 'example.fr' not found in LDAP (-1 ) url=ldap://ldap1\n" +
				"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: Cache Warning: (id 9) override url=ldap://ldap1\n",
		},
		{
			"groups flatten to dotted keys",
			func(lg *logging.Logger) {
				lg.Slog().WithGroup("store").With("host", "st1").Info("m", "port", 143,
					slog.Group("tls", "ver", "1.3"))
			},
			"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Information: m store.host=st1 store.port=143 store.tls.ver=1.3\n",
		},
		{
			"control characters cannot forge a line",
			func(lg *logging.Logger) {
				lg.Slog().Warn("user 'x\r\n[01/Jan/2000:00:00:00 +0000] fake'", "user", "a\nb")
			},
			`[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Warning: user 'x\r\n[01/Jan/2000:00:00:00 +0000] fake' user="a\nb"` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			lg, buf := open(t, func(o *logging.Options) { o.Dir = dir })
			tt.log(lg)
			if got := buf.String(); got != tt.want {
				t.Errorf("Stderr got\n%s\nwant\n%s", got, tt.want)
			}
			if got := readFile(t, filepath.Join(dir, "ImapProxy_20190702.log")); got != tt.want {
				t.Errorf("file got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestStampZones(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2019, 7, 2, 11, 26, 57, 999, cest), "[02/Jul/2019:11:26:57 +0200] "},
		{time.Date(2024, 1, 5, 3, 4, 5, 0, time.UTC), "[05/Jan/2024:03:04:05 +0000] "},
		{time.Date(2024, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(9*3600+30*60))), "[31/Dec/2024:23:59:59 -0930] "},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.FixedZone("", 5*3600+45*60)), "[29/Feb/2024:00:00:00 +0545] "},
	}
	for _, tt := range tests {
		lg, buf := open(t, func(o *logging.Options) {
			o.Now = func() time.Time { return tt.t }
			o.Host, o.Proc, o.Pid = "h", "MMP", 1
		})
		lg.Slog().Error("x")
		if got, want := buf.String(), tt.want+"h MMP[1]: General Error: x\n"; got != want {
			t.Errorf("line for %v = %q, want %q", tt.t, got, want)
		}
	}
}

func TestFileNameModeAppend(t *testing.T) {
	dir := t.TempDir()
	for i, proc := range []string{"ImapProxy", "PopProxy", "SmtpProxy", "AService", "MMP"} {
		for run := 0; run < 2; run++ { // the second run must append, not truncate
			lg, _ := open(t, func(o *logging.Options) { o.Dir, o.Proc, o.Stderr = dir, proc, nil })
			lg.Slog().Error("run", "n", run)
			if err := lg.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
		}
		name := filepath.Join(dir, proc+"_20190702.log")
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		// 0640 as created; the umask may only take bits away.
		if perm := fi.Mode().Perm(); perm&^0o640 != 0 || perm&0o600 != 0o600 {
			t.Errorf("mode of %s = %v, want 0640 (less umask)", name, perm)
		}
		want := "[02/Jul/2019:11:26:57 +0200] mmp1 " + proc + "[12607]: General Error: run n=0\n" +
			"[02/Jul/2019:11:26:57 +0200] mmp1 " + proc + "[12607]: General Error: run n=1\n"
		if got := readFile(t, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 5 {
		t.Errorf("LogDir holds %d files, want 5", len(entries))
	}
}

func TestMidnightRollover(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2024, 1, 15, 23, 59, 58, 0, cest)}
	lg, _ := open(t, func(o *logging.Options) { o.Dir, o.Now, o.Stderr = dir, c.Now, nil })
	s := lg.Session(5)
	s.Error("before")
	c.Set(time.Date(2024, 1, 15, 23, 59, 59, 999999999, cest))
	s.Error("just before")
	c.Set(time.Date(2024, 1, 16, 0, 0, 0, 0, cest))
	s.Error("after")
	c.Set(time.Date(2024, 1, 16, 0, 0, 1, 0, cest))
	lg.Slog().Error("after again")
	if err := lg.Close(); err != nil {
		t.Fatal(err)
	}

	files := map[string]string{
		"ImapProxy_20240115.log": "[15/Jan/2024:23:59:58 +0200] mmp1 ImapProxy[12607]: General Error: (id 5) before\n" +
			"[15/Jan/2024:23:59:59 +0200] mmp1 ImapProxy[12607]: General Error: (id 5) just before\n",
		"ImapProxy_20240116.log": "[16/Jan/2024:00:00:00 +0200] mmp1 ImapProxy[12607]: General Error: (id 5) after\n" +
			"[16/Jan/2024:00:00:01 +0200] mmp1 ImapProxy[12607]: General Error: after again\n",
	}
	for name, want := range files {
		if got := readFile(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("LogDir holds %d files, want 2", len(entries))
	}
}

func TestNoLogDir(t *testing.T) {
	parent := t.TempDir()
	missing := filepath.Join(parent, "nope")
	for _, dir := range []string{"", missing} {
		lg, buf := open(t, func(o *logging.Options) { o.Dir = dir })
		lg.Slog().Error("still on stderr")
		if !strings.Contains(buf.String(), "General Error: still on stderr\n") {
			t.Errorf("Dir %q: Stderr = %q, want the line", dir, buf.String())
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Dir %q: %s exists (%v), want no directory created", dir, missing, err)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Errorf("Dir %q: %s holds %d entries, want none", dir, parent, len(entries))
		}
		if err := lg.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	}

	// Without Stderr either, nothing is even formatted.
	lg, err := logging.Open(logging.Options{Dir: missing, Level: 10, Proc: "ImapProxy"})
	if err != nil {
		t.Fatalf("Open with missing Dir = %v, want nil", err)
	}
	defer lg.Close()
	if lg.Slog().Enabled(context.Background(), logging.LevelCritical) {
		t.Error("Enabled(Critical) = true with no destination, want false")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := logging.Open(logging.Options{}); err == nil {
		t.Error("Open with empty Proc = nil error, want error")
	}
	if _, err := logging.Open(logging.Options{Proc: "../x"}); err == nil {
		t.Error("Open with Proc ../x = nil error, want error")
	}
	// A LogDir that exists but cannot hold files is reported, unlike a
	// missing one, because the administrator asked for logs.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := logging.Open(logging.Options{Dir: notDir, Proc: "ImapProxy"}); err == nil {
		t.Errorf("Open with Dir %s (a file) = nil error, want error", notDir)
	}
}

func TestLevelFor(t *testing.T) {
	want := []slog.Level{
		logging.LevelCritical, slog.LevelError, slog.LevelWarn, slog.LevelWarn,
		logging.LevelNotice, logging.LevelNotice, logging.LevelInformation, logging.LevelInformation,
		slog.LevelDebug, slog.LevelDebug, logging.LevelTrace,
	}
	for n, w := range want {
		if got := logging.LevelFor(n); got != w {
			t.Errorf("LevelFor(%d) = %v, want %v", n, got, w)
		}
	}
	if got := logging.LevelFor(-1); got != logging.LevelCritical {
		t.Errorf("LevelFor(-1) = %v, want Critical", got)
	}
	if got := logging.LevelFor(11); got != logging.LevelTrace {
		t.Errorf("LevelFor(11) = %v, want Trace", got)
	}
	if logging.LevelInformation != slog.LevelInfo {
		t.Errorf("LevelInformation = %v, want slog.LevelInfo", logging.LevelInformation)
	}
	if !(slog.LevelDebug > logging.LevelTrace && slog.LevelInfo < logging.LevelNotice &&
		logging.LevelNotice < slog.LevelWarn && slog.LevelError < logging.LevelCritical) {
		t.Error("levels out of order")
	}
}

// TestLogLevelThresholds logs one line per severity at every LogLevel and
// checks which ones appear (docs/reference.md §3.10 mapping).
func TestLogLevelThresholds(t *testing.T) {
	emit := []struct {
		sev string
		log func(l *slog.Logger)
	}{
		{"Trace", func(l *slog.Logger) { logging.Trace(l, "Trace") }},
		{"Debug", func(l *slog.Logger) { l.Debug("Debug") }},
		{"Information", func(l *slog.Logger) { l.Info("Information") }},
		{"Notice", func(l *slog.Logger) { logging.Notice(l, "Notice") }},
		{"Warning", func(l *slog.Logger) { l.Warn("Warning") }},
		{"Error", func(l *slog.Logger) { l.Error("Error") }},
		{"Critical", func(l *slog.Logger) { logging.Critical(l, "Critical") }},
	}
	// least severe message logged at each LogLevel, as an index into emit
	least := []int{6, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0}
	for level, from := range least {
		dir := t.TempDir()
		lg, buf := open(t, func(o *logging.Options) { o.Dir, o.Level = dir, level })
		for _, e := range emit {
			e.log(lg.Session(1))
		}
		file := readFile(t, filepath.Join(dir, "ImapProxy_20190702.log"))
		for i, e := range emit {
			wantIn := i >= from
			for dest, got := range map[string]string{"file": file, "Stderr": buf.String()} {
				if in := strings.Contains(got, ": (id 1) "+e.sev+"\n"); in != wantIn {
					t.Errorf("LogLevel %d: %s line in %s = %v, want %v", level, e.sev, dest, in, wantIn)
				}
			}
		}
	}
}

func TestSessionIDOnEveryLine(t *testing.T) {
	lg, buf := open(t, nil)
	s := lg.Session(18446744073709551615)
	s.Info("one")
	s.With("user", "joe").Warn("two")
	s.WithGroup("g").With("a", 1).Error("three", "b", 2)
	logging.Notice(s.With(logging.Category("BadGuys")), "four")
	logging.Critical(s, "five")
	logging.Trace(s, "six")
	s.Log(context.Background(), slog.LevelDebug, "seven")
	other := lg.Session(2)
	other.Info("other")
	lg.Slog().Info("process")

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 9 {
		t.Fatalf("got %d lines, want 9:\n%s", len(lines), buf.String())
	}
	for _, line := range lines[:7] {
		if !strings.Contains(line, ": (id 18446744073709551615) ") {
			t.Errorf("line %q lacks (id 18446744073709551615)", line)
		}
	}
	if !strings.Contains(lines[7], ": (id 2) other") {
		t.Errorf("line %q lacks (id 2)", lines[7])
	}
	if strings.Contains(lines[8], "(id") {
		t.Errorf("process line %q has a session id", lines[8])
	}
}

func TestStderrDuplicate(t *testing.T) {
	dir := t.TempDir()
	lg, buf := open(t, func(o *logging.Options) { o.Dir = dir })
	for i := 0; i < 3; i++ {
		lg.Session(uint64(i)).Warn("dup", "i", i)
	}
	file := readFile(t, filepath.Join(dir, "ImapProxy_20190702.log"))
	if file != buf.String() || strings.Count(file, "\n") != 3 {
		t.Errorf("file %q and Stderr %q differ or miss lines", file, buf.String())
	}

	// Stderr alone, without a LogDir, is the container setup.
	lg2, buf2 := open(t, nil)
	lg2.Slog().Warn("only stderr")
	if !strings.HasSuffix(buf2.String(), "General Warning: only stderr\n") {
		t.Errorf("Stderr = %q", buf2.String())
	}
}

func TestCloseDropsLines(t *testing.T) {
	dir := t.TempDir()
	lg, buf := open(t, func(o *logging.Options) { o.Dir = dir })
	l := lg.Slog()
	l.Error("before")
	if err := lg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := lg.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	l.Error("after")
	if strings.Contains(buf.String(), "after") {
		t.Errorf("line logged after Close reached Stderr: %q", buf.String())
	}
	if got := readFile(t, filepath.Join(dir, "ImapProxy_20190702.log")); strings.Contains(got, "after") {
		t.Errorf("line logged after Close reached the file: %q", got)
	}
}

func TestReopenSettings(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	buf := &syncBuffer{}
	now := func() time.Time { return time.Date(2019, 7, 2, 11, 26, 57, 0, cest) }
	o := logging.Options{Dir: dirA, Level: 1, Proc: "ImapProxy", Host: "mmp1", Pid: 1, Stderr: buf, Now: now}
	lg, err := logging.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	s := lg.Session(3) // obtained before Reopen, must follow it
	s.Info("A info, filtered")
	s.Error("A error")

	o.Dir, o.Level = dirB, 6
	if err := lg.Reopen(o); err != nil {
		t.Fatalf("Reopen(%+v) = %v", o, err)
	}
	s.Info("B info")

	// A failing Reopen keeps the current settings.
	bad := o
	bad.Dir = filepath.Join(dirA, "ImapProxy_20190702.log") // exists, not a directory
	bad.Level = 0
	if err := lg.Reopen(bad); err == nil {
		t.Fatalf("Reopen(Dir=%s) = nil, want error", bad.Dir)
	}
	s.Info("B info after failed reopen")

	// A missing directory switches file logging off, as at Open.
	o.Dir = filepath.Join(dirB, "gone")
	if err := lg.Reopen(o); err != nil {
		t.Fatalf("Reopen(missing dir) = %v", err)
	}
	s.Info("stderr only")

	a := readFile(t, filepath.Join(dirA, "ImapProxy_20190702.log"))
	b := readFile(t, filepath.Join(dirB, "ImapProxy_20190702.log"))
	if want := "[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[1]: General Error: (id 3) A error\n"; a != want {
		t.Errorf("dir A = %q, want %q", a, want)
	}
	if want := "[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[1]: General Information: (id 3) B info\n" +
		"[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[1]: General Information: (id 3) B info after failed reopen\n"; b != want {
		t.Errorf("dir B = %q, want %q", b, want)
	}
	if !strings.HasSuffix(buf.String(), "(id 3) stderr only\n") {
		t.Errorf("Stderr = %q, want the last line", buf.String())
	}
}

// TestReopenWhileLogging switches LogDir back and forth while 8 goroutines
// log; run it with -race. No line may be lost, torn or written twice.
func TestReopenWhileLogging(t *testing.T) {
	const workers, perWorker = 8, 400
	dirs := []string{t.TempDir(), t.TempDir()}
	o := logging.Options{Dir: dirs[0], Level: 6, Proc: "PopProxy", Host: "mmp1", Pid: 42}
	lg, err := logging.Open(o)
	if err != nil {
		t.Fatal(err)
	}

	var done atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			l := lg.Session(uint64(1000 + w))
			for i := 0; i < perWorker; i++ {
				l.Info("line", "w", w, "i", i, "pad", strings.Repeat("x", i%97))
			}
		}(w)
	}
	reopens := 0
	go func() { wg.Wait(); done.Store(true) }()
	for !done.Load() {
		reopens++
		o.Dir = dirs[reopens%2]
		if err := lg.Reopen(o); err != nil {
			t.Errorf("Reopen = %v", err)
			break
		}
	}
	wg.Wait()
	if err := lg.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reopens during %d lines", reopens, workers*perWorker)

	lineRE := regexp.MustCompile(`^\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] mmp1 PopProxy\[42\]: General Information: \(id (\d+)\) line w=(\d) i=(\d+) pad=(?:x+|"")$`)
	seen := make(map[string]bool)
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			for _, line := range strings.Split(strings.TrimSuffix(readFile(t, filepath.Join(d, e.Name())), "\n"), "\n") {
				if line == "" {
					continue
				}
				m := lineRE.FindStringSubmatch(line)
				if m == nil {
					t.Fatalf("malformed line %q", line)
				}
				if m[1] != fmt.Sprint(1000+int(m[2][0]-'0')) {
					t.Errorf("line %q has another worker's id", line)
				}
				key := m[2] + "/" + m[3]
				if seen[key] {
					t.Errorf("line %s written twice", key)
				}
				seen[key] = true
			}
		}
	}
	if len(seen) != workers*perWorker {
		t.Errorf("found %d distinct lines, want %d", len(seen), workers*perWorker)
	}
}

func TestConcurrentStderrLinesWhole(t *testing.T) {
	lg, buf := open(t, nil)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				lg.Slog().Info("m", "k", strings.Repeat("y", 300))
			}
		}()
	}
	wg.Wait()
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasSuffix(line, "General Information: m k="+strings.Repeat("y", 300)) {
			t.Fatalf("torn line %q", line)
		}
	}
}

func BenchmarkLogLine(b *testing.B) {
	now := func() time.Time { return time.Date(2019, 7, 2, 11, 26, 57, 0, cest) }
	run := func(b *testing.B, o logging.Options, parallel bool) {
		lg, err := logging.Open(o)
		if err != nil {
			b.Fatal(err)
		}
		defer lg.Close()
		l := lg.Session(1019831)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.LogAttrs(ctx, logging.LevelNotice, "badguy now has 3 badness",
						slog.String("client", "192.12.87.25"), slog.Int("badness", 3))
				}
			})
			return
		}
		for i := 0; i < b.N; i++ {
			l.LogAttrs(ctx, logging.LevelNotice, "badguy now has 3 badness",
				slog.String("client", "192.12.87.25"), slog.Int("badness", 3))
		}
	}
	b.Run("discard", func(b *testing.B) {
		run(b, logging.Options{Level: 5, Proc: "ImapProxy", Host: "mmp1", Stderr: io.Discard, Now: now}, false)
	})
	b.Run("discard-realclock", func(b *testing.B) {
		run(b, logging.Options{Level: 5, Proc: "ImapProxy", Host: "mmp1", Stderr: io.Discard}, false)
	})
	b.Run("file", func(b *testing.B) {
		run(b, logging.Options{Dir: b.TempDir(), Level: 5, Proc: "ImapProxy", Host: "mmp1", Now: now}, false)
	})
	b.Run("file-parallel", func(b *testing.B) {
		run(b, logging.Options{Dir: b.TempDir(), Level: 5, Proc: "ImapProxy", Host: "mmp1", Now: now}, true)
	})
	b.Run("filtered", func(b *testing.B) {
		run(b, logging.Options{Level: 1, Proc: "ImapProxy", Host: "mmp1", Stderr: io.Discard}, false)
	})
}

// counted is a fmt.Stringer that counts how often it is formatted.
type counted struct{ n *int }

func (c counted) String() string { *c.n++; return "value" }

// TestFormattedOnlyWhenLogged: Noticef and Infof write the formatted line
// at the levels Notice and Information are written, and do not format
// their arguments below the LogLevel.
func TestFormattedOnlyWhenLogged(t *testing.T) {
	for _, tc := range []struct {
		level      int
		info, note bool
	}{{1, false, false}, {5, false, true}, {6, true, true}} {
		dir := t.TempDir()
		lg, _ := open(t, func(o *logging.Options) { o.Dir, o.Level = dir, tc.level })
		n := 0
		logging.Noticef(lg.Session(1), "notice %s %d", counted{&n}, 7)
		logging.Infof(lg.Session(1), "info %s", counted{&n})
		file := readFile(t, filepath.Join(dir, "ImapProxy_20190702.log"))
		if got := strings.Contains(file, ": (id 1) notice value 7\n"); got != tc.note {
			t.Errorf("LogLevel %d: Notice line written = %v, want %v\n%s", tc.level, got, tc.note, file)
		}
		if got := strings.Contains(file, ": (id 1) info value\n"); got != tc.info {
			t.Errorf("LogLevel %d: Information line written = %v, want %v\n%s", tc.level, got, tc.info, file)
		}
		want := 0
		if tc.note {
			want++
		}
		if tc.info {
			want++
		}
		if n != want {
			t.Errorf("LogLevel %d: arguments formatted %d times, want %d", tc.level, n, want)
		}
	}
}
