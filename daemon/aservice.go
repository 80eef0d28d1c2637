package daemon

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/who"
)

const aserviceUsage = `Usage: AService [-c DIR] [-check [--probe]] [-f] [--log-stderr] [-pidfile FILE]

Runs every service listed in ServiceList of DIR/AService.cfg (IMAP, POP and
SMTP proxies) in one process, as Sun's AService daemon did. It binds every
port first, then switches to BeTheUser/BeTheGroup when started as root.

AService always runs in the foreground; start-msg(8) is what puts it in
the background. SIGHUP re-reads every file of the instance (refresh(8));
a configuration with errors is refused and the running one kept, and so
is one that would weaken a running service without saying so (an SSL
port turned to clear text, a file emptied). SIGTERM
or SIGINT stops accepting and lets sessions finish for 30 seconds.

  -c DIR, --config DIR   instance configuration directory (default ./config)
  -check, --check        validate every file of the instance and exit:
                         each problem is printed as file:line: Parameter: message;
                         exit status 1 if any is an error, 0 if only warnings.
                         The verdict is the daemon's: an error is what would
                         stop it, a warning what it runs with
  --probe, -probe        with -check: also connect to what the configuration
                         points at, as sessions will: the directory (base
                         entry, the mail hosts of a sample of users), each of
                         those stores (greeting, capabilities, TLS) and each
                         relay (greeting, EHLO, the SmtpRelayAnnounce
                         introduction); exit status 1 if any would make
                         sessions fail. The daemon logs the same at start
  -f, --foreground       accepted for systemd and scripts; AService never
                         detaches
  --log-stderr           write every log line to standard error as well
                         (systemd journal, containers)
  -pidfile FILE          write the process id to FILE once every port is open
                         (removed at exit)

If DIR/run exists, each refresh writes its outcome to
DIR/run/AService-PID.refresh, which refresh(8) waits for.
`

var aserviceFlags = []string{"-c", "--config", "-check", "--check", "-probe", "--probe", "-f", "--foreground", "--log-stderr", "-pidfile", "--pidfile", "--help"}

// aserviceArgs is AService's parsed command line.
type aserviceArgs struct {
	dir        string
	check      bool
	probe      bool // with check: connect to the directory, stores and relays
	foreground bool // accepted; AService never detaches (start-msg does)
	logStderr  bool
	pidfile    string
}

// parseAService accepts single- and double-dash spellings of each option,
// since Sun's tools used single-dash words and Go users type double dashes.
func parseAService(args []string) (*aserviceArgs, bool, error) {
	a := &aserviceArgs{dir: "config"}
	for i := 0; i < len(args); i++ {
		opt := "-" + strings.TrimLeft(args[i], "-")
		opt, val, hasVal := strings.Cut(opt, "=")
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs an argument", args[i])
			}
			i++
			return args[i], nil
		}
		var err error
		switch opt {
		case "-c", "-config":
			a.dir, err = value()
		case "-check":
			a.check = true
		case "-probe":
			a.probe = true
		case "-f", "-foreground":
			a.foreground = true
		case "-log-stderr":
			a.logStderr = true
		case "-pidfile":
			a.pidfile, err = value()
		case "-h", "-help":
			return nil, true, nil
		default:
			err = fmt.Errorf("unknown option %s (see --help)", args[i])
		}
		if err != nil {
			return nil, false, err
		}
	}
	return a, false, nil
}

func runAService(cmd *cobra.Command, args []string, stdio IO) int {
	a, help, err := parseAService(args)
	if err != nil {
		fmt.Fprintf(stdio.Err, "AService: %v\n", err)
		return ExitUsage
	}
	if help {
		cmd.Help()
		return ExitOK
	}
	if a.probe && !a.check {
		fmt.Fprintf(stdio.Err, "AService: -probe goes with -check\n")
		return ExitUsage
	}
	if a.check {
		code := check(stdio.Out, a.dir)
		if code != ExitOK || !a.probe {
			return code
		}
		inst, _ := loadInstance(a.dir, false)
		if !runProbe(stdio.Out, inst) {
			return ExitConfig
		}
		return ExitOK
	}
	// start-msg records the pid before the daemon has read its files, so a
	// refresh may come that early; it must not end the process (SIGHUP's
	// default). serve takes SIGHUP over once the services run.
	signal.Ignore(syscall.SIGHUP)
	load := func() (*config.Instance, config.Problems) { return loadInstance(a.dir, true) }
	inst, problems := load()
	printProblems(stdio.Err, "AService", problems)
	if problems.Fatal() {
		return ExitConfig
	}
	opts := serveOptions{reload: load, pidfile: a.pidfile}
	if fi, err := os.Stat(filepath.Join(a.dir, "run")); err == nil && fi.IsDir() {
		opts.statusFile = RefreshStatusFile(a.dir, os.Getpid())
	}
	if a.logStderr {
		opts.stderr = &syncWriter{w: stdio.Err}
	}
	if abs, err := filepath.Abs(a.dir); err == nil {
		opts.adminSocket = who.SocketPath(abs, os.Getpid())
	}
	return serve(stdio, "AService", inst, opts)
}

// RefreshStatusFile is where AService records the outcome of each
// refresh when the instance directory has a run directory (start-msg
// creates it): refresh(8) removes the file, sends SIGHUP and waits for it
// to appear again.
func RefreshStatusFile(dir string, pid int) string {
	return filepath.Join(dir, "run", fmt.Sprintf("AService-%d.refresh", pid))
}

// check validates an instance directory and prints every problem. Its
// verdict is the daemon's: both judge through loadInstance.
func check(w io.Writer, dir string) int {
	_, problems := loadInstance(dir, false)
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	errs, warns := 0, 0
	for _, p := range problems {
		if p.Severity >= config.Fatal {
			errs++
		} else {
			warns++
		}
	}
	if errs > 0 {
		fmt.Fprintf(w, "%s: %d error(s), %d warning(s)\n", dir, errs, warns)
		return ExitConfig
	}
	fmt.Fprintf(w, "%s: configuration OK (%d warning(s))\n", dir, warns)
	return ExitOK
}
