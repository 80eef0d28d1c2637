// Package instance implements start-msg, stop-msg and refresh, the Sun
// Messaging Server 6.x commands that start, stop and refresh a Messaging
// Multiplexor (docs/reference.md §5.2).
//
// An instance is a directory holding AService.cfg and the other files of
// one MMP, under an instance root (OPENMMP_ROOT or --root, default
// /opt/openmmp, where mmp-setup writes ROOT/NAME/AService.cfg). The
// commands run the AService binary and talk to it only through signals
// and files, never by linking the daemon: the pid registry mmp.pids, the
// pid file that AService writes once its ports are open (readiness), and
// the refresh status file it writes after each SIGHUP.
package instance

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Kind is the command being run.
type Kind int

const (
	Start   Kind = iota // start-msg
	Stop                // stop-msg
	Refresh             // refresh
)

func (k Kind) String() string {
	switch k {
	case Start:
		return "start-msg"
	case Stop:
		return "stop-msg"
	}
	return "refresh"
}

// Exit codes, documented in the man pages' EXIT STATUS sections.
const (
	ExitOK         = 0 // done: started (pid printed), stopped, refreshed
	ExitFailed     = 1 // start: the daemon exited or was not ready in time; stop: it did not exit in time; refresh: refused (old configuration kept) or no answer
	ExitUsage      = 2 // wrong command line, not "mmp", no such instance, or several and none named
	ExitNotRunning = 3 // stop-msg, refresh: no running MMP for the instance
)

// DefaultRoot is the instance root when neither --root nor OPENMMP_ROOT
// is given; mmp-setup writes its instances there.
const DefaultRoot = "/opt/openmmp"

// ShutdownGrace is AService's grace period for sessions after SIGTERM
// (daemon.ShutdownGrace; this package runs the daemon, it does not link
// it), and StopMargin the time stop-msg allows beyond it.
const (
	ShutdownGrace = 30 * time.Second
	StopMargin    = 10 * time.Second
)

// IO is where a command's output goes and what environment it sees;
// tests replace it.
type IO struct {
	Out, Err io.Writer
	Environ  []string
}

// usageError is a command-line mistake: exit status ExitUsage.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitError ends a command with a given status after its message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// Main runs the command kind with the arguments after its name.
func Main(kind Kind, args []string) int {
	return MainIO(kind, args, IO{Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()})
}

// options are the command line of the three commands.
type options struct {
	root     string
	aservice string
	wait     time.Duration
}

// MainIO is Main with explicit input, output and environment.
func MainIO(kind Kind, args []string, stdio IO) int {
	var o options
	code := ExitOK
	name := kind.String()
	cmd := &cobra.Command{
		Use:           name + " mmp [instance]",
		Short:         shortHelp[kind],
		Long:          longHelp[kind],
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := chooseInstance(o.rootOr(stdio.Environ), args)
			if err != nil {
				return err
			}
			switch kind {
			case Start:
				return start(stdio, dir, o)
			case Stop:
				return stop(stdio, dir, o)
			}
			return refresh(stdio, dir, o)
		},
	}
	cmd.SetOut(stdio.Out)
	cmd.SetErr(stdio.Err)
	cmd.SetArgs(args)
	f := cmd.Flags()
	f.StringVar(&o.root, "root", "", "instance root directory (default $OPENMMP_ROOT, else "+DefaultRoot+")")
	f.DurationVar(&o.wait, "wait", defaultWait[kind], "how long to wait for the daemon")
	if kind == Start {
		f.StringVar(&o.aservice, "aservice", "", "AService binary (default: next to "+name+", else $PATH)")
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	err := cmd.Execute()
	var ue usageError
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintf(stdio.Err, "%s: %v\n", name, err)
		fmt.Fprintf(stdio.Err, "usage: %s [--root DIR] mmp [instance]\n", name)
		code = ExitUsage
	case errors.As(err, &ee):
		fmt.Fprintf(stdio.Err, "%s: %v\n", name, err)
		code = ee.code
	default:
		fmt.Fprintf(stdio.Err, "%s: %v\n", name, err)
		code = ExitFailed
	}
	return code
}

var defaultWait = map[Kind]time.Duration{
	Start:   60 * time.Second,
	Stop:    ShutdownGrace + StopMargin,
	Refresh: 30 * time.Second,
}

// rootOr returns the instance root: --root, else OPENMMP_ROOT, else
// DefaultRoot.
func (o options) rootOr(environ []string) string {
	if o.root != "" {
		return o.root
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "OPENMMP_ROOT="); ok && v != "" {
			return v
		}
	}
	return DefaultRoot
}

// sunComponents are the other words Sun's start-msg, stop-msg and refresh
// took (store, MTA, web and service daemons). openmmp is the MMP alone.
var sunComponents = map[string]bool{
	"imap": true, "pop": true, "http": true, "smtp": true, "mta": true, "store": true,
	"sched": true, "ens": true, "ha": true, "watcher": true, "dispatcher": true,
	"job_controller": true, "purge": true, "msprobe": true, "cert": true, "mshttpd": true,
}

// chooseInstance checks the arguments ("mmp" and an optional instance)
// and returns the absolute instance directory. The instance may be a
// name under root or, with a slash in it, a directory. Without one, the
// root must hold exactly one instance.
func chooseInstance(root string, args []string) (string, error) {
	if len(args) == 0 {
		return "", usagef("name the component: mmp")
	}
	switch comp := args[0]; {
	case comp == "mmp":
	case sunComponents[comp]:
		return "", usagef("%s: openmmp manages only the Messaging Multiplexor; Sun's %s of the message store and MTA is not part of it (use: mmp)", comp, comp)
	default:
		return "", usagef("%s: unknown component (use: mmp)", comp)
	}
	if len(args) > 2 {
		return "", usagef("too many arguments: %s", strings.Join(args[2:], " "))
	}
	if len(args) == 2 {
		name := args[1]
		dir := name
		if !strings.Contains(name, "/") {
			dir = filepath.Join(root, name)
		}
		dir, err := filepath.Abs(dir)
		if err != nil {
			return "", usagef("%s: %v", name, err)
		}
		if !isInstance(dir) {
			return "", usagef("%s: no instance (no AService.cfg in %s)", name, dir)
		}
		return dir, nil
	}
	names, err := instances(root)
	if err != nil {
		return "", usagef("%v", err)
	}
	switch len(names) {
	case 0:
		return "", usagef("no instance in %s (set --root or OPENMMP_ROOT, or run mmp-setup)", root)
	case 1:
		return filepath.Abs(filepath.Join(root, names[0]))
	}
	return "", usagef("%s holds several instances (%s); name one", root, strings.Join(names, ", "))
}

// isInstance reports whether dir holds an instance: AService.cfg, or its
// template, from which AService makes it at start.
func isInstance(dir string) bool {
	for _, f := range []string{"AService.cfg", "AService-def.cfg"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// instances lists the instance names under root, sorted.
func instances(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("instance root: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && isInstance(filepath.Join(root, e.Name())) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}
