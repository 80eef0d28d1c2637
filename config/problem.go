package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
)

// Severity ranks a problem by what it stops. There are two, because the
// check command and the daemon give one verdict (docs/decisions.md): what
// would stop the daemon or break a service is an error for both; what the
// daemon runs with is a warning for both.
type Severity int

const (
	// Warning: reported, never fails; the daemon runs with it (an unknown
	// parameter or one in a file where it does nothing, both ignored; a
	// Timeout below the standard's minimum; a deprecated name).
	Warning Severity = iota
	// Fatal: the daemon refuses to start, a refresh keeps the old
	// configuration and the check command fails (a value that does not
	// parse, a missing file, a certificate that cannot be used).
	Fatal
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one mistake found while loading, at a place in a file.
type Problem struct {
	File     string
	Line     int
	Param    string
	Msg      string
	Severity Severity
}

// String renders "file:line: Param: message", with " (warning)" appended
// to warnings.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Param != "" {
		b.WriteString(p.Param + ": ")
	}
	b.WriteString(p.Msg)
	if p.Severity == Warning {
		b.WriteString(" (warning)")
	}
	return b.String()
}

// Problems is everything found in one load, in the order found.
type Problems []Problem

// Worst returns the highest severity present, or -1 for none.
func (ps Problems) Worst() Severity {
	worst := Severity(-1)
	for _, p := range ps {
		worst = max(worst, p.Severity)
	}
	return worst
}

// Fatal reports whether the configuration cannot be used.
func (ps Problems) Fatal() bool { return ps.Worst() >= Fatal }

// Err returns the problems of at least the given severity as one error,
// one per line, or nil if there are none.
func (ps Problems) Err(min Severity) error {
	var lines []string
	for _, p := range ps {
		if p.Severity >= min {
			lines = append(lines, p.String())
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Sorted orders the problems by file, in the order files were first
// mentioned, then by line, so that a check reads like the files; a
// problem given twice is kept once.
func (ps Problems) Sorted() Problems {
	var out Problems
	for _, p := range ps {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return (&report{out}).sorted()
}

// report collects problems while loading.
type report struct{ Problems }

func (r *report) add(sev Severity, file string, line int, name, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{File: file, Line: line, Param: name, Msg: fmt.Sprintf(format, args...), Severity: sev})
}

// addErr turns a parser error into a problem, keeping the position that
// a cfgfmt.Error carries.
func (r *report) addErr(sev Severity, file string, err error) {
	var ce *cfgfmt.Error
	if errors.As(err, &ce) {
		if ce.File != "" {
			file = ce.File
		}
		r.add(sev, file, ce.Line, ce.Name, "%v", ce.Err)
		return
	}
	r.add(sev, file, 0, "", "%v", err)
}

// sorted orders the problems by file, in the order files were first
// mentioned, then by line, so that a check reads like the files.
func (r *report) sorted() Problems {
	rank := map[string]int{}
	for _, p := range r.Problems {
		if _, ok := rank[p.File]; !ok {
			rank[p.File] = len(rank)
		}
	}
	ps := slices.Clone(r.Problems)
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := rank[a.File] - rank[b.File]; c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return ps
}
