// Package daemon is the composition root of the MMP's programs: the
// Netscape-style front ends ImapProxy, PopProxy and SmtpProxy, and the Sun
// 6.x style daemon AService that runs every service of an instance
// directory's ServiceList in one process.
//
// Each program's main is one line: os.Exit(daemon.Main(name, args)).
// Cobra provides --help and shell completion; the Netscape options are
// parsed by package legacy, never by pflag, which would read `-ps` as
// `-p -s` (docs/reference.md §5.1).
package daemon

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/legacy"
	"github.com/openmmp/mmp/param"
)

// Exit codes, documented in the man pages' EXIT STATUS sections.
const (
	ExitOK      = 0 // success; for a check, no errors (warnings allowed)
	ExitConfig  = 1 // the configuration has errors
	ExitUsage   = 2 // the command line is wrong
	ExitRuntime = 3 // the service could not run (a port could not be bound, ...)
)

// IO is where a program's output goes; tests replace it.
type IO struct {
	Out, Err io.Writer
	Environ  []string
}

// Main runs the program called name ("ImapProxy", "PopProxy", "SmtpProxy"
// or "AService") with the arguments after the program name.
func Main(name string, args []string) int {
	return MainIO(name, args, IO{Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()})
}

// MainIO is Main with explicit input and output.
func MainIO(name string, args []string, stdio IO) int {
	code := ExitOK
	cmd := &cobra.Command{
		Use:                name,
		DisableFlagParsing: true,
		SilenceUsage:       true,
		SilenceErrors:      true,
		Args:               cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "AService" {
				code = runAService(cmd, args, stdio)
			} else {
				code = runFrontEnd(cmd, serviceOf(name), args, stdio)
			}
			return nil
		},
	}
	cmd.SetOut(stdio.Out)
	cmd.SetErr(stdio.Err)
	// The usage text is the whole help: cobra's own "-h, --help" line
	// would be wrong, since -h is LDAPHost (or the listing) in Netscape.
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprint(c.OutOrStdout(), c.Long) })
	if name == "AService" {
		cmd.Short = "Messaging Multiplexor daemon: runs the services of an instance directory"
		cmd.Long = aserviceUsage
		cmd.ValidArgsFunction = completeWords(aserviceFlags)
	} else {
		svc := serviceOf(name)
		cmd.Short = fmt.Sprintf("Messaging Multiplexor %s proxy, Netscape 4.x command line", strings.TrimSuffix(name, "Proxy"))
		cmd.Long = FrontEndUsage(name, svc)
		cmd.ValidArgsFunction = completeWords(frontEndWords(svc))
	}
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(stdio.Err, "%s: %v\n", name, err)
		return ExitUsage
	}
	return code
}

func serviceOf(name string) param.Where {
	switch name {
	case "PopProxy":
		return param.POP
	case "SmtpProxy":
		return param.SMTP
	}
	return param.IMAP
}

// completeWords offers a fixed list of words to shell completion.
func completeWords(words []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, w := range words {
			if strings.HasPrefix(w, prefix) {
				out = append(out, w)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func frontEndWords(svc param.Where) []string {
	words := []string{"install", "-h", "-s", "-pre", "-n", "--config", "--help"}
	for _, p := range param.All() {
		if !legacy.Applies(p, svc) {
			continue
		}
		if p.Flag != "" && p.Flag != "-h" {
			words = append(words, p.Flag)
		}
		words = append(words, "--"+p.Name)
	}
	return words
}

// runFrontEnd is ImapProxy, PopProxy and SmtpProxy.
func runFrontEnd(cmd *cobra.Command, svc param.Where, args []string, stdio IO) int {
	name := cmd.Name()
	c, err := legacy.Parse(svc, args)
	if err != nil {
		fmt.Fprintf(stdio.Err, "%s: %v\n", name, err)
		return ExitUsage
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(stdio.Err, "%s: %s\n", name, w)
	}
	switch c.Mode {
	case legacy.Help:
		cmd.Help()
		return ExitOK
	case legacy.Install:
		if err := legacy.WriteInstall(stdio.Out, c); err != nil {
			return ExitRuntime
		}
		return ExitOK
	}
	env, envErrs := legacy.FromEnv(svc, stdio.Environ)
	for _, e := range envErrs {
		fmt.Fprintf(stdio.Err, "%s: %v\n", name, e)
	}
	if len(envErrs) > 0 {
		return ExitConfig
	}
	fe := config.FrontEnd{Protocol: svc, File: c.ConfigFile, Env: env, Flags: c.Settings}
	inst, problems := loadFrontEnd(fe)
	if c.Mode == legacy.List {
		values := inst.Services[0].Values
		WriteListing(stdio.Out, values, func(p *param.Param) bool { return legacy.Applies(p, svc) })
		printProblems(stdio.Err, name, problems)
		if givenValueFails(problems, values) {
			return ExitConfig
		}
		return ExitOK
	}
	printProblems(stdio.Err, name, problems)
	if problems.Fatal() {
		return ExitConfig
	}
	if c.Mode == legacy.Probe {
		if !runProbe(stdio.Out, inst) {
			return ExitConfig
		}
		return ExitOK
	}
	// Refresh reads the --config file again, with the environment and
	// command line as they were at start.
	reload := func() (*config.Instance, config.Problems) { return loadFrontEnd(fe) }
	return serve(stdio, name, inst, serveOptions{reload: reload})
}

// givenValueFails reports whether a fatal problem concerns something that
// was given (a line of a file, a value that names a missing file, a file
// that cannot be read). -h
// only lists: what the configuration still lacks to run, such as the
// relays of a bare `SmtpProxy -h`, is printed but does not fail it.
func givenValueFails(ps config.Problems, v *config.Values) bool {
	for _, pr := range ps {
		if pr.Severity < config.Fatal {
			continue
		}
		if p := param.Lookup(pr.Param); pr.Line > 0 || p == nil || v.IsSet(p) {
			return true
		}
	}
	return false
}

// WriteListing prints every parameter chosen by include with its effective
// value and where the value came from (Netscape `-h`).
func WriteListing(w io.Writer, v *config.Values, include func(*param.Param) bool) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PARAMETER\tVALUE\tFROM")
	for _, p := range param.All() {
		if include(p) {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, v.Display(p), v.Origin(p))
		}
	}
	tw.Flush()
}

// printProblems writes configuration problems, one per line.
func printProblems(w io.Writer, prog string, ps config.Problems) {
	for _, p := range ps {
		fmt.Fprintf(w, "%s: %s\n", prog, p)
	}
}

// FrontEndUsage is the --help text of a Netscape front end, generated from
// the parameter table.
func FrontEndUsage(name string, svc param.Where) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [install] [options]\n       %s -h\n\n", name, name)
	b.WriteString("Netscape Messaging Multiplexor 4.x options (each option is one word; -ps is not -p -s):\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, p := range param.All() {
		if p.Flag == "" || !legacy.Applies(p, svc) {
			continue
		}
		switch p.Flag {
		case "-pre":
			fmt.Fprintf(tw, "  -pre\t%s (%s)\n", p.Doc, p.EnvName())
		case "-h":
			fmt.Fprintf(tw, "  -h [%s]\t%s (%s); alone: list every parameter with its value and where it came from\n", p.Type, p.Doc, p.EnvName())
		default:
			fmt.Fprintf(tw, "  %s %s\t%s (%s)\n", p.Flag, p.Type, p.Doc, p.EnvName())
		}
	}
	fmt.Fprintf(tw, "  -n instance\tWindows NT service instance; ignored\n")
	fmt.Fprintf(tw, "  install\tprint the options as %s.config lines and exit\n", strings.TrimSuffix(name, "Proxy")+"MMP")
	tw.Flush()
	// Too long for the table's first column.
	fmt.Fprintf(&b, "  -s %s\n        enable SSL with these six arguments, \"\" for an empty one\n", strings.Join(sslArgEnvNames(), " "))
	b.WriteString("\nGo options:\n")
	b.WriteString("  --config FILE   read an ImapMMP.config-style file or a *AService.cfg first\n")
	b.WriteString("  --Name value    set any parameter by its Sun name, e.g. --Timeout 600\n")
	b.WriteString("  --help          this text\n")
	b.WriteString("\nPrecedence: command line, then environment, then --config file, then default.\n")
	return b.String()
}

func sslArgEnvNames() []string {
	var s []string
	for _, p := range legacy.SSLArgs {
		s = append(s, p.EnvName())
	}
	return s
}
