package logging

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Logger. The zero value of each field is usable except
// Proc, which names both the file and the process in every line.
type Options struct {
	// Dir is the LogDir parameter. Empty, or a directory that does not
	// exist, means no log file is written, without an error: the docs/reference.md
	// (§2.1, §3.10) makes a missing LogDir the way to switch logging off.
	Dir string

	// Level is the LogLevel parameter, 0–10; see LevelFor. Zero logs
	// Critical lines only (the product default is 1).
	Level int

	// Proc is "ImapProxy", "PopProxy", "SmtpProxy", "AService", or "MMP"
	// for the Netscape 4.x layout. It is the file name prefix and the
	// process name in each line. It must not be empty.
	Proc string

	// Host is the host name shown in each line. Empty means os.Hostname
	// up to the first dot, as the 7.x lines show a short name.
	Host string

	// Pid is the process id shown in each line. Zero means os.Getpid();
	// tests set it so that lines are reproducible.
	Pid int

	// Stderr, if not nil, receives every line as well as the file, for
	// systemd and containers where the journal collects standard error.
	// Writes to it are serialised, so it need not be safe for concurrent
	// use.
	Stderr io.Writer

	// Now, if not nil, replaces time.Now for the time stamp and for
	// choosing the day's file; tests use it to cross midnight. Dates and
	// the zone offset are those of the location of the returned time,
	// which for time.Now is the local time zone, as the reference requires.
	Now func() time.Time
}

// Logger owns the log file of one process and hands out slog loggers that
// write to it. All methods are safe for concurrent use, and the loggers it
// returns keep working across Reopen: they see the new settings.
type Logger struct {
	s    *sink
	base *slog.Logger
}

// Open starts logging as o describes. It opens today's file at once, so
// that an unwritable LogDir is reported at start-up rather than lost; a
// LogDir that does not exist is not an error (see Options.Dir).
func Open(o Options) (*Logger, error) {
	s := &sink{}
	if err := s.apply(o); err != nil {
		return nil, err
	}
	return &Logger{s: s, base: slog.New(&handler{s: s})}, nil
}

// Slog returns the process-wide logger, for lines without a session id
// (start-up, listeners, refresh). Its lines have category General unless an
// attribute from Category says otherwise.
func (l *Logger) Slog() *slog.Logger { return l.base }

// Session returns a logger whose every line carries "(id N)" after the
// severity, as the reference's lines do, so that all lines of one connection
// can be found with one grep. Attributes and groups added to it with With
// and WithGroup keep the id.
func (l *Logger) Session(id uint64) *slog.Logger {
	b := make([]byte, 0, 24)
	b = append(b, "(id "...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, ") "...)
	return slog.New(&handler{s: l.s, session: b})
}

// Reopen applies new options, as Open would, to a running Logger: it is
// what refresh (SIGHUP, docs/reference.md §4.8) calls after re-reading the configuration.
// Lines logged afterwards — also through loggers obtained earlier — use the
// new Dir, Level and other fields; lines being written meanwhile go to the
// old or the new file, never half to each. Reopen also lets log rotation
// tools move the current file away. If the new file cannot be opened,
// Reopen returns the error and keeps the old settings.
func (l *Logger) Reopen(o Options) error { return l.s.apply(o) }

// Close closes the log file. Lines logged after Close are dropped, also
// those for Stderr, until a Reopen. Close may be called more than once.
func (l *Logger) Close() error {
	s := l.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.level.Set(levelOff)
	s.dir, s.stderr = "", nil
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("logging: close: %w", err)
	}
	return nil
}

// sink is the state shared by every handler of one Logger.
type sink struct {
	// level is read without the lock by Enabled, on every log call.
	level slog.LevelVar

	// form holds what formatting a line needs; handlers load it without
	// the lock, so that formatting runs in parallel and only the write is
	// serialised.
	form atomic.Pointer[format]

	// mu guards the destinations below and serialises writes to them, so
	// that lines never interleave and a file is never used after Reopen
	// closed it.
	mu     sync.Mutex
	dir    string // "" = no file logging
	proc   string
	day    int      // yyyymmdd of f, or of the last attempt to open it
	f      *os.File // nil if no file, or if opening the day's file failed
	stderr io.Writer
}

// format is the immutable part of the settings used to build a line.
type format struct {
	prefix []byte // "host Proc[pid]: "
	now    func() time.Time
}

// apply validates o and installs it. The new file is opened before the
// lock is taken, so a slow file system does not stall logging goroutines,
// and an error leaves the old settings in place.
func (s *sink) apply(o Options) error {
	if o.Proc == "" {
		return errors.New("logging: Options.Proc is empty")
	}
	if strings.ContainsAny(o.Proc, `/\`) {
		return fmt.Errorf("logging: Options.Proc %q contains a path separator", o.Proc)
	}
	host := o.Host
	if host == "" {
		host = shortHostname()
	}
	pid := o.Pid
	if pid == 0 {
		pid = os.Getpid()
	}
	prefix := make([]byte, 0, len(host)+len(o.Proc)+16)
	prefix = append(prefix, host...)
	prefix = append(prefix, ' ')
	prefix = append(prefix, o.Proc...)
	prefix = append(prefix, '[')
	prefix = strconv.AppendInt(prefix, int64(pid), 10)
	prefix = append(prefix, "]: "...)

	dir, day := o.Dir, 0
	var f *os.File
	if dir != "" {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			dir = "" // spec: no log is written, silently
		}
	}
	if dir != "" {
		now := time.Now()
		if o.Now != nil {
			now = o.Now()
		}
		y, m, d := now.Date()
		day = dayKey(y, m, d)
		var err error
		f, err = openLog(dir, o.Proc, day)
		if errors.Is(err, fs.ErrNotExist) {
			dir = "" // removed between Stat and OpenFile
		} else if err != nil {
			return err
		}
	}

	level := LevelFor(o.Level)
	if dir == "" && o.Stderr == nil {
		level = levelOff // nowhere to write: do not even format lines
	}

	s.mu.Lock()
	old := s.f
	s.dir, s.proc, s.day, s.f, s.stderr = dir, o.Proc, day, f, o.Stderr
	s.form.Store(&format{prefix: prefix, now: o.Now})
	s.level.Set(level)
	s.mu.Unlock()
	if old != nil {
		_ = old.Close() // nothing useful to do: the new settings are in place
	}
	return nil
}

// write emits one finished line: one Write call per destination, under the
// lock. day is the yyyymmdd of the line's time stamp; a change of it is the
// only per-line cost of the midnight roll-over check.
func (s *sink) write(line []byte, day int) {
	s.mu.Lock()
	if s.dir != "" && day != s.day {
		s.roll(day)
	}
	if s.f != nil {
		_, _ = s.f.Write(line) // a full disk must not stop the proxy
	}
	if s.stderr != nil {
		_, _ = s.stderr.Write(line)
	}
	s.mu.Unlock()
}

// roll switches to the file of a new day. s.mu must be held. A failure is
// remembered through s.day so it is not retried for every line of that day;
// it is reported on Stderr when there is one, since the file is what failed.
func (s *sink) roll(day int) {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.day = day
	f, err := openLog(s.dir, s.proc, day)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && s.stderr != nil {
			_, _ = io.WriteString(s.stderr, err.Error()+"\n")
		}
		return
	}
	s.f = f
}

// openLog opens (creating or appending to) Dir/<Proc>_yyyymmdd.log with mode
// 0640: log lines name users and client addresses, so others must not read
// them, while a log-reading group may.
func openLog(dir, proc string, day int) (*os.File, error) {
	name := make([]byte, 0, len(proc)+13)
	name = append(name, proc...)
	name = append(name, '_')
	name = appendPad(name, day, 8)
	name = append(name, ".log"...)
	path := filepath.Join(dir, string(name))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("logging: %w", err) // *PathError names the file
	}
	return f, nil
}

// shortHostname is os.Hostname up to the first dot, as in the 7.x lines
// ("mmp1"); "localhost" stands in if the name is unknown, since the field
// must not be empty for parsers that split on blanks.
func shortHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	return h
}

func dayKey(y int, m time.Month, d int) int { return y*10000 + int(m)*100 + d }
