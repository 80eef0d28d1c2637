package logging

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Levels for the Messaging Server severities that slog lacks. slog's own
// LevelDebug, LevelInfo, LevelWarn and LevelError stand for Debug,
// Information, Warning and Error; LevelInformation is an alias of
// slog.LevelInfo so that code can use the Messaging Server word.
const (
	// LevelTrace is for protocol traces, which the reference (docs/reference.md) reserves for
	// LogLevel 10 (§3.10). It is below slog.LevelDebug so that LogLevel 8
	// and 9 give debugging without the bulk of a wire trace; its lines
	// still show the severity Debug, since the product has no Trace.
	LevelTrace slog.Level = slog.LevelDebug - 4

	// LevelInformation is slog.LevelInfo under its Messaging Server name.
	LevelInformation slog.Level = slog.LevelInfo

	// LevelNotice sits between Information and Warning: normal but
	// significant events, such as a BadGuys penalty or a disabled account.
	LevelNotice slog.Level = 2

	// LevelCritical is above slog.LevelError; it is the only severity
	// still logged at LogLevel 0.
	LevelCritical slog.Level = slog.LevelError + 4
)

// levelOff is above every level a caller can reasonably use; the handler
// reports itself disabled at this threshold so that no line is formatted
// when it has nowhere to go.
const levelOff slog.Level = 1 << 30

// LevelFor returns the least severe slog level that is logged at the given
// LogLevel parameter (0–10, docs/reference.md §2.1), following the mapping of §3.10:
// 0 Critical only; 1 Error and above; 2–3 Warning; 4–5 Notice; 6–7
// Information; 8–9 Debug; 10 Debug plus protocol traces (LevelTrace).
// Values below 0 count as 0 and values above 10 as 10, because the
// configuration layer reports the out-of-range value and logging must
// still do something sensible with it.
func LevelFor(logLevel int) slog.Level {
	switch {
	case logLevel <= 0:
		return LevelCritical
	case logLevel == 1:
		return slog.LevelError
	case logLevel <= 3:
		return slog.LevelWarn
	case logLevel <= 5:
		return LevelNotice
	case logLevel <= 7:
		return LevelInformation
	case logLevel <= 9:
		return slog.LevelDebug
	default:
		return LevelTrace
	}
}

// severity is the word written in the line for a level. Levels between the
// named ones take the name of the one below, as slog does for its own names.
func severity(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "Critical"
	case l >= slog.LevelError:
		return "Error"
	case l >= slog.LevelWarn:
		return "Warning"
	case l >= LevelNotice:
		return "Notice"
	case l >= LevelInformation:
		return "Information"
	default:
		return "Debug"
	}
}

// Notice logs at LevelNotice. slog.Logger has methods only for its four
// levels, and Notice is the severity most MMP events use (§3.10 examples).
func Notice(l *slog.Logger, msg string, args ...any) { logAt(l, LevelNotice, msg, args) }

// Noticef logs fmt.Sprintf(format, args...) at LevelNotice, formatting
// only when the level is enabled: most lines of a login are below the
// default LogLevel (1), and formatting them cost every login.
func Noticef(l *slog.Logger, format string, args ...any) { logfAt(l, LevelNotice, format, args) }

// Infof is Noticef at LevelInformation.
func Infof(l *slog.Logger, format string, args ...any) { logfAt(l, LevelInformation, format, args) }

// Critical logs at LevelCritical, the one severity LogLevel 0 keeps.
func Critical(l *slog.Logger, msg string, args ...any) { logAt(l, LevelCritical, msg, args) }

// Trace logs at LevelTrace, for protocol traces shown only at LogLevel 10.
// Credentials in a trace must be passed as Secret or masked by the caller.
func Trace(l *slog.Logger, msg string, args ...any) { logAt(l, LevelTrace, msg, args) }

// logAt builds the record itself rather than calling l.Log so that the
// source position recorded is the caller's, not this package's (the pattern
// documented in log/slog, "Wrapping output methods").
func logAt(l *slog.Logger, level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // skip Callers, logAt, and Notice/Critical/Trace
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	r.Add(args...)
	_ = l.Handler().Handle(ctx, r)
}

// logfAt is logAt of a message formatted only when level is enabled.
func logfAt(l *slog.Logger, level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // skip Callers, logfAt, and Noticef/Infof
	r := slog.NewRecord(time.Now(), level, fmt.Sprintf(format, args...), pcs[0])
	_ = l.Handler().Handle(ctx, r)
}

type loggerKey struct{}

// NewContext returns ctx carrying l, the logger of the session a call is
// made for: a package that serves many sessions (the directory) writes
// what it finds about one session to that session's log, with its
// "(id N)", rather than to its own.
func NewContext(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// FromContext returns the logger NewContext put in ctx, or fallback.
func FromContext(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return fallback
}
