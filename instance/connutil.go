package instance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openmmp/mmp/who"
)

// imsconnutil: who is connected to the MMPs, and ending a user's
// sessions ("Sun Java System Messaging Server Administration
// Reference", imsconnutil). It asks every AService of this machine
// through its admin socket (who.SocketPath), or, when the instances
// name a fleet (FleetRedis), the fleet's Redis, which holds the
// sessions of every MMP.

// Exit codes of imsconnutil, documented in imsconnutil(8).
const (
	ConnExitOK      = 0 // answered
	ConnExitNoMMP   = 1 // no MMP answered (none runs, or Redis is unreachable)
	ConnExitUsage   = 2 // the command line is wrong
	ConnExitPartial = 3 // some MMPs answered, others did not: the output lacks theirs
)

// connOptions are imsconnutil's command line.
type connOptions struct {
	connected, access, kick bool
	service                 string
	users                   []string
	file                    string
	root                    string
	timeout                 time.Duration
}

// connSource is where the answers come from: the admin sockets of this
// machine, or the fleet's Redis.
type connSource interface {
	list(ctx context.Context, m who.Matcher, service string) ([]who.Session, error)
	kick(ctx context.Context, m who.Matcher) (kicked []who.Session, note string, err error)
	last(ctx context.Context, m who.Matcher) ([]who.Access, error)
	close()
}

// errPartial marks an answer that lacks some MMPs; the source has
// printed which on the error output.
var errPartial = errors.New("some MMPs did not answer")

// ConnUtil runs imsconnutil with the arguments after its name.
func ConnUtil(args []string) int {
	return ConnUtilIO(args, IO{Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()})
}

// ConnUtilIO is ConnUtil with explicit input, output and environment.
func ConnUtilIO(args []string, stdio IO) int {
	var o connOptions
	code := ConnExitOK
	cmd := &cobra.Command{
		Use:           "imsconnutil -c|-a [-s service] [-u uid] [-f file] | -k {-u uid | -f file}",
		Short:         "Who is connected to the Messaging Multiplexors, and ending a user's sessions",
		Long:          connLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := runConnUtil(cmd.Context(), stdio, o)
			code = c
			return err
		},
	}
	cmd.SetOut(stdio.Out)
	cmd.SetErr(stdio.Err)
	cmd.SetArgs(args)
	f := cmd.Flags()
	f.BoolVarP(&o.connected, "connected", "c", false, "list the users connected now")
	f.BoolVarP(&o.access, "access", "a", false, "list each user's last login and logout per service")
	f.BoolVarP(&o.kick, "kick", "k", false, "end the sessions of the users named by -u or -f, on every MMP")
	f.StringVarP(&o.service, "service", "s", "", "with -c: only this service (imap, pop or smtp)")
	f.StringArrayVarP(&o.users, "uid", "u", nil, "this user only (the canonical login as -c shows it); may be repeated")
	f.StringVarP(&o.file, "file", "f", "", "the users listed in this file, one per line")
	f.StringVar(&o.root, "root", "", "instance root directory (default $OPENMMP_ROOT, else "+DefaultRoot+")")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the MMPs")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	err := cmd.ExecuteContext(context.Background())
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintf(stdio.Err, "imsconnutil: %v\n", err)
		fmt.Fprintf(stdio.Err, "usage: imsconnutil -c|-a [-s service] [-u uid] [-f file]\n       imsconnutil -k {-u uid | -f file}\n")
		code = ConnExitUsage
	case errors.Is(err, errPartial):
		code = ConnExitPartial
	default:
		fmt.Fprintf(stdio.Err, "imsconnutil: %v\n", err)
		if code == ConnExitOK {
			code = ConnExitNoMMP
		}
	}
	return code
}

const connLong = `imsconnutil lists who is connected to the Messaging Multiplexors (-c), each
user's last login and logout per service (-a), and ends a user's sessions on
every MMP (-k), as after a password change or a mailbox move: an IMAP client
reads "* BYE", POP and SMTP clients are disconnected.

It answers for the whole fleet through its Redis when the instances under
ROOT set FleetRedis, else for the AService processes of this machine, through
the admin socket of each (ROOT/instance/run/AService-PID.sock, mode 0600,
owned by the MMP's user: run it as that user or as root). ROOT is --root,
else $OPENMMP_ROOT, else /opt/openmmp.`

func runConnUtil(ctx context.Context, stdio IO, o connOptions) (int, error) {
	n := 0
	for _, b := range []bool{o.connected, o.access, o.kick} {
		if b {
			n++
		}
	}
	switch {
	case n == 0:
		return ConnExitUsage, usagef("one of -c, -a or -k is needed")
	case o.kick && n > 1:
		return ConnExitUsage, usagef("-k goes alone (with -u or -f)")
	case o.kick && len(o.users) == 0 && o.file == "":
		return ConnExitUsage, usagef("-k needs the users: -u uid or -f file")
	case o.service != "" && !slices.Contains(who.Services, strings.ToLower(o.service)):
		return ConnExitUsage, usagef("-s %s: the services are imap, pop and smtp", o.service)
	}
	users := o.users
	if o.file != "" {
		more, err := readUsers(o.file)
		if err != nil {
			return ConnExitUsage, usageError{err}
		}
		if len(more) == 0 {
			return ConnExitUsage, usagef("%s: no user in the file", o.file)
		}
		users = append(users, more...)
	}
	m := who.Match(users)
	root := options{root: o.root}.rootOr(stdio.Environ)
	src, err := connSourceFor(root, stdio)
	if err != nil {
		return ConnExitNoMMP, err
	}
	defer src.close()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var partial error
	keep := func(err error) error {
		if errors.Is(err, errPartial) {
			partial = err
			return nil
		}
		return err
	}
	if o.kick {
		kicked, note, err := src.kick(ctx, m)
		if err = keep(err); err != nil {
			return ConnExitNoMMP, err
		}
		writeKicked(stdio.Out, kicked, note)
		return ConnExitOK, partial
	}
	if o.connected {
		ss, err := src.list(ctx, m, strings.ToLower(o.service))
		if err = keep(err); err != nil {
			return ConnExitNoMMP, err
		}
		who.SortSessions(ss)
		writeSessions(stdio.Out, ss)
	}
	if o.access {
		if o.connected {
			fmt.Fprintln(stdio.Out)
		}
		as, err := src.last(ctx, m)
		if err = keep(err); err != nil {
			return ConnExitNoMMP, err
		}
		writeAccess(stdio.Out, who.MergeAccess(as))
	}
	return ConnExitOK, partial
}

// readUsers reads a -f file: one user per line; blank lines and lines
// starting with # are skipped.
func readUsers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var users []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if u := strings.TrimSpace(sc.Text()); u != "" && !strings.HasPrefix(u, "#") {
			users = append(users, u)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return users, nil
}

// stamp prints a time as the MMP's log lines do, in local time; "-" for
// never.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// writeSessions prints -c: a header line, then one session per line.
func writeSessions(w io.Writer, ss []who.Session) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "UID\tSERVICE\tCLIENT\tSTORE\tSINCE\tFROM-CLIENT\tFROM-STORE\tMMP")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.User, s.Service, s.Client, s.Store, stamp(s.Since), s.FromClient, s.FromStore, s.MMP)
	}
	tw.Flush()
}

// writeAccess prints -a: a header line, then one user and service per
// line.
func writeAccess(w io.Writer, as []who.Access) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "UID\tSERVICE\tLAST LOGIN\tLAST LOGOUT")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.User, a.Service, stamp(a.Login), stamp(a.Logout))
	}
	tw.Flush()
}

// writeKicked prints -k: the sessions ended, with a header line.
func writeKicked(w io.Writer, ss []who.Session, note string) {
	who.SortSessions(ss)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "UID\tSERVICE\tCLIENT\tMMP\tDISCONNECTED")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.User, s.Service, s.Client, s.MMP, "yes")
	}
	tw.Flush()
	if note != "" {
		fmt.Fprintln(w, note)
	}
}

// localSource asks the AService processes of this machine.
type localSource struct {
	root    string
	sockets []string
	err     io.Writer
}

// connSourceFor chooses where the answers come from: the fleet's Redis
// when the instances under root set FleetRedis, else their admin sockets.
func connSourceFor(root string, stdio IO) (connSource, error) {
	names, err := instances(root)
	if err != nil {
		return nil, fmt.Errorf("no MMP answers: %v (set --root or OPENMMP_ROOT)", err)
	}
	l := &localSource{root: root, err: stdio.Err}
	for _, n := range names {
		l.sockets = append(l.sockets, who.Sockets(filepath.Join(root, n))...)
	}
	local := l
	if len(l.sockets) == 0 {
		local = nil
	}
	if src, err := fleetSource(root, names, stdio, local); src != nil || err != nil {
		return src, err
	}
	if local == nil {
		return nil, fmt.Errorf("no MMP answers: no AService of the %d instance(s) under %s is running (no admin socket in ROOT/*/run)", len(names), root)
	}
	return l, nil
}

// ask sends req to every AService and returns the replies of those that
// answered. A socket left by a killed process is skipped quietly; any
// other failure is printed. It fails when none answered.
func (l *localSource) ask(ctx context.Context, req who.Request) ([]who.Reply, error) {
	type answer struct {
		rep who.Reply
		err error
	}
	answers := make([]answer, len(l.sockets))
	done := make(chan struct{})
	for i, path := range l.sockets {
		go func() {
			answers[i].rep, answers[i].err = who.Ask(ctx, path, req)
			done <- struct{}{}
		}()
	}
	for range l.sockets {
		<-done
	}
	var reps []who.Reply
	failed := 0
	for i, a := range answers {
		switch {
		case a.err == nil:
			reps = append(reps, a.rep)
		case errors.Is(a.err, who.ErrNotRunning):
		default:
			failed++
			fmt.Fprintf(l.err, "imsconnutil: %s: %v\n", l.sockets[i], a.err)
		}
	}
	if len(reps) == 0 {
		if failed == 0 {
			return nil, fmt.Errorf("no MMP answers: no AService under %s is running (only sockets left by stopped processes)", l.root)
		}
		return nil, fmt.Errorf("no MMP answers (%d admin socket(s) under %s failed)", failed, l.root)
	}
	if failed > 0 {
		return reps, errPartial
	}
	return reps, nil
}

func (l *localSource) close() {}

func (l *localSource) list(ctx context.Context, m who.Matcher, service string) ([]who.Session, error) {
	reps, err := l.ask(ctx, who.Request{Op: who.OpList, Users: m.Names(), Service: service})
	var ss []who.Session
	for _, r := range reps {
		ss = append(ss, r.Sessions...)
	}
	return ss, err
}

func (l *localSource) kick(ctx context.Context, m who.Matcher) ([]who.Session, string, error) {
	reps, err := l.ask(ctx, who.Request{Op: who.OpKick, Users: m.Names()})
	var ss []who.Session
	for _, r := range reps {
		ss = append(ss, r.Sessions...)
	}
	note := fmt.Sprintf("%d session(s) ended on %d MMP(s)", len(ss), len(reps))
	return ss, note, err
}

func (l *localSource) last(ctx context.Context, m who.Matcher) ([]who.Access, error) {
	reps, err := l.ask(ctx, who.Request{Op: who.OpLast, Users: m.Names()})
	var as []who.Access
	for _, r := range reps {
		as = append(as, r.Access...)
	}
	return as, err
}
