// Package logging writes the Messaging Multiplexor's log files and log lines
// as described in docs/reference.md §3.10 (file names, roll-over, line format, severities)
// and §2.1 (the LogDir and LogLevel parameters), behind a log/slog handler so
// that the rest of the code logs with the standard library's API.
//
// Each process writes LogDir/<Proc>_yyyymmdd.log, where Proc is ImapProxy,
// PopProxy, SmtpProxy, AService or, for the Netscape 4.x layout, MMP. A new
// file starts when the local date changes. A LogDir that is empty or does not
// exist disables file logging without an error, because the product did
// exactly that and administrators rely on it to switch logging off (§2.1).
// Every line has the layout observed in 7.x logs, which existing log parsers
// (logstash grok patterns among them) expect:
//
//	[02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Notice: (id 1019831) badguy 192.12.87.25 now has 3 badness
//
// that is "[date] host Proc[pid]: Category Severity: (id N) message",
// followed by any slog attributes as " key=value". The "(id N)" part appears
// only on lines logged through a [Logger.Session] logger.
//
// LogLevel 0–10 maps to a minimum slog level with [LevelFor]. The six
// Messaging Server severities are Debug, Information, Notice, Warning, Error
// and Critical; slog has no Notice or Critical, so this package defines
// [LevelNotice] and [LevelCritical] and the helpers [Notice] and [Critical].
//
// Passwords travel as [Secret], which prints as **redacted** through fmt,
// slog and encoders, so that a credential cannot reach a log line by
// accident (style guide, example 14).
//
// Typical usage:
//
//	lg, err := logging.Open(logging.Options{Dir: snap.LogDir, Level: snap.LogLevel, Proc: "ImapProxy"})
//	if err != nil {
//		return err
//	}
//	defer lg.Close()
//	slog.SetDefault(lg.Slog())
//
//	// per connection
//	log := lg.Session(id).With("client", remote)
//	logging.Notice(log, "badguy "+ip+" now has 3 badness")
//
//	// on SIGHUP (refresh)
//	err = lg.Reopen(logging.Options{Dir: snap.LogDir, Level: snap.LogLevel, Proc: "ImapProxy"})
package logging
