package setup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openmmp/mmp/config"
)

// Exit codes of mmp-setup, documented in mmp-setup(8) EXIT STATUS.
const (
	ExitOK        = 0 // the instance was written and checks clean (warnings allowed)
	ExitProblems  = 1 // the instance was written, but config.Load found errors in it
	ExitUsage     = 2 // bad command line, unreadable or invalid answers, end of input
	ExitCancelled = 3 // the user cancelled; nothing was written
)

// IO is where mmp-setup reads answers and writes prompts; tests replace it.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs mmp-setup with the arguments after the program name.
func Main(args []string) int {
	return MainIO(args, IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

// flags is mmp-setup's command line.
type flags struct {
	answers, writeAnswers string
	withPasswords, n4     bool
}

// MainIO is Main with explicit input and output. Which Prompter asks is
// decided here: an answers file when --answers is given, survey when In
// and Out are a terminal, plain lines otherwise.
func MainIO(args []string, stdio IO) int {
	var f flags
	code := ExitOK
	cmd := &cobra.Command{
		Use:           "mmp-setup [--answers FILE] [--write-answers FILE [--with-passwords]] [--n4]",
		Short:         "Create or change a Messaging Multiplexor instance",
		Long:          Usage(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code = run(f, stdio)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.answers, "answers", "", "take the answers from a properties `FILE` (silent install)")
	cmd.Flags().StringVar(&f.writeAnswers, "write-answers", "", "record the accepted answers in `FILE`")
	cmd.Flags().BoolVar(&f.withPasswords, "with-passwords", false, "record passwords too (with --write-answers)")
	cmd.Flags().BoolVar(&f.n4, "n4", false, "write a new instance as Netscape 4.x ImapMMP.config/PopMMP.config and start scripts")
	if args == nil {
		args = []string{} // cobra would read os.Args
	}
	cmd.SetArgs(args)
	cmd.SetOut(stdio.Out)
	cmd.SetErr(stdio.Err)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(stdio.Err, "mmp-setup: %v\n", err)
		return ExitUsage
	}
	return code
}

// run is the whole installer after the command line.
func run(f flags, stdio IO) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(stdio.Err, "mmp-setup: "+format+"\n", args...)
		return code
	}
	if f.withPasswords && f.writeAnswers == "" {
		return fail(ExitUsage, "--with-passwords needs --write-answers")
	}
	s := &session{out: stdio.Out, n4Flag: f.n4, qs: questions(), closing: closingQuestions(), probe: probeLDAP}
	s.hostname, _ = hostname()
	all := append(append([]*question{}, s.qs...), s.closing...)

	var ap *answersPrompter
	switch tp, ok := newTerminalPrompter(stdio.In, stdio.Out, stdio.Err); {
	case f.answers != "":
		m, err := readAnswers(f.answers, all)
		if err != nil {
			return fail(ExitUsage, "%v", err)
		}
		ap = &answersPrompter{answers: m, used: map[string]bool{}, implied: impliedBy(all, m)}
		s.p, s.batch = ap, true
	case ok:
		s.p = tp
	default:
		s.p = newLinePrompter(stdio.In, stdio.Out)
	}

	err := s.run()
	var ie *InputError
	switch {
	case errors.Is(err, ErrCancelled):
		return fail(ExitCancelled, "cancelled; nothing was written")
	case errors.As(err, &ie):
		return fail(ExitUsage, "%v", err)
	case err != nil:
		return fail(ExitUsage, "%v", err)
	}
	if ap != nil {
		var unused []string
		for k := range ap.answers {
			if !ap.used[k] {
				unused = append(unused, k)
			}
		}
		sort.Strings(unused)
		for _, k := range unused {
			fmt.Fprintf(stdio.Err, "mmp-setup: note: answer %s was not asked for and is ignored\n", k)
		}
	}
	if f.writeAnswers != "" {
		if err := os.WriteFile(f.writeAnswers, formatAnswers(s.ans, all, f.withPasswords), 0o600); err != nil {
			return fail(ExitUsage, "%v", err)
		}
		fmt.Fprintf(stdio.Out, "Answers recorded in %s.\n", f.writeAnswers)
	}

	outs, notes, err := s.outputs()
	if err != nil {
		return fail(ExitUsage, "%v", err)
	}
	written, err := writeAll(outs)
	if err != nil {
		return fail(ExitUsage, "%v", err)
	}
	notes = append(notes, s.prepareDirs(written)...)
	for _, n := range notes {
		fmt.Fprintf(stdio.Out, "note: %s\n", n)
	}
	if len(written) == 0 {
		fmt.Fprintf(stdio.Out, "Nothing to change in %s.\n", s.dir())
	}
	for _, p := range written {
		fmt.Fprintf(stdio.Out, "Wrote %s\n", p)
	}
	code := s.check(stdio.Out)
	s.howToStart(stdio.Out)
	return code
}

// hostname is the default instance name, as in the Netscape installer;
// tests replace it.
var hostname = os.Hostname

// impliedBy returns the answersPrompter's rule: a y/n question that an
// answers file leaves out is answered yes when the file answers a question
// only that yes leads to (directly or through further y/n questions).
func impliedBy(qs []*question, m map[string]string) func(string) bool {
	under := map[string][]string{}
	for _, q := range qs {
		if q.Gate != "" {
			under[q.Gate] = append(under[q.Gate], q.Key)
		}
	}
	var implied func(string) bool
	implied = func(key string) bool {
		for _, k := range under[key] {
			if _, ok := m[k]; ok || implied(k) {
				return true
			}
		}
		return false
	}
	return implied
}

// check loads what was written the way the daemon will and prints every
// problem; errors make the exit status ExitProblems.
func (s *session) check(w io.Writer) int {
	var problems config.Problems
	if s.n4() {
		for _, pr := range s.protocols() {
			_, ps := config.LoadFrontEnd(config.FrontEnd{Protocol: pr.where, File: s.path(pr.n4 + ".config")})
			problems = append(problems, ps...)
		}
	} else {
		_, problems = config.Load(s.dir(), config.Options{})
	}
	for _, p := range problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if problems.Worst() >= config.Fatal {
		fmt.Fprintf(w, "The configuration of %s has errors; correct them and run mmp-setup again or edit the files.\n", s.dir())
		return ExitProblems
	}
	fmt.Fprintf(w, "The configuration of %s checks clean.\n", s.dir())
	return ExitOK
}

// howToStart prints the follow-up information of the Netscape installer,
// whose content was lost (docs/reference.md §6 "end").
func (s *session) howToStart(w io.Writer) {
	fmt.Fprintln(w, "\nTo start the Multiplexor:")
	if s.n4() {
		for _, pr := range s.protocols() {
			fmt.Fprintf(w, "    %s\n", s.path(pr.n4))
		}
		fmt.Fprintln(w, "Link these scripts into the init directory to start the Multiplexor at boot.")
		return
	}
	fmt.Fprintf(w, "    start-msg mmp %s\nor, in the foreground:\n    AService -c %s -f\n", s.ans.get("instance"), s.dir())
}

// Usage is mmp-setup's --help text and the body of its man page.
func Usage() string {
	var b strings.Builder
	b.WriteString(`mmp-setup creates a Messaging Multiplexor instance, or changes one, by asking
the questions of the Netscape Messaging Multiplexor installer (mmp-setup,
Netscape Messaging Server 4.x): run-as user, installation directory, instance,
service, LDAP settings, ports, overrides, virtual domains, SSL, certificate
login and pre-authentication. It shows a summary, offers to test the LDAP
settings, writes the instance and checks it as the daemon would.

An instance is a directory under the installation directory. By default it
gets Sun 6 style files: AService.cfg and ImapProxyAService.cfg,
PopProxyAService.cfg, SmtpProxyAService.cfg made from their templates. With
--n4 a new instance gets Netscape 4.x ImapMMP.config/PopMMP.config files and
ImapMMP/PopMMP start scripts instead. Changing an instance edits its files in
place and keeps every comment and every setting the answers do not decide.

On a terminal the questions are asked with menus and hidden passwords; when
standard input is not a terminal they are plain lines read from it, an empty
line taking the default; with --answers FILE they come from a properties file
of the keys below. The same answers give the same files in all three ways.

Answer keys (--answers, --write-answers):
`)
	b.WriteString(AnswerKeys())
	b.WriteString(`
Exit status: 0 written and clean, 1 written but the check found errors,
2 usage or input error (bad answer in a file, end of input), 3 cancelled.
`)
	return b.String()
}

// AnswerKey documents one key of an answers file.
type AnswerKey struct {
	Key   string // "ldap.host"
	When  string // when the question is asked: "always", "bind", "service has pop" ...
	Value string // what it takes, the parameter it sets and its default
}

// AnswerKeyTable lists the answer keys in the order of the dialogue,
// generated from the questions, for --help, the package documentation and
// the man page.
func AnswerKeyTable() []AnswerKey {
	var rows []AnswerKey
	seen := map[string]bool{}
	for _, q := range append(questions(), closingQuestions()...) {
		if seen[q.Key] {
			continue
		}
		seen[q.Key] = true
		when := q.DocWhen
		if when == "" {
			when = "always"
		}
		val := q.DocValue
		if val == "" && q.Param != nil {
			val = q.Param.Name
		}
		rows = append(rows, AnswerKey{q.Key, when, val})
	}
	return rows
}

// AnswerKeys is AnswerKeyTable as indented text columns.
func AnswerKeys() string {
	rows := AnswerKeyTable()
	w0, w1 := len("KEY"), len("ASKED WHEN")
	for _, r := range rows {
		w0, w1 = max(w0, len(r.Key)), max(w1, len(r.When))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  %-*s  %-*s  %s\n", w0, "KEY", w1, "ASKED WHEN", "VALUE")
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  %-*s  %s\n", w0, r.Key, w1, r.When, r.Value)
	}
	return b.String()
}
