package daemon

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openmmp/mmp/config"
)

const aserviceUsage = `Usage: AService [-c DIR] [-check] [-f] [-pidfile FILE]

Runs every service listed in ServiceList of DIR/AService.cfg (IMAP, POP and
SMTP proxies) in one process, as Sun's AService daemon did.

  -c DIR, --config DIR   instance configuration directory (default ./config)
  -check, --check        validate every file of the instance and exit:
                         each problem is printed as file:line: Parameter: message;
                         exit status 1 if any is an error, 0 if only warnings
  -f, --foreground       stay in the foreground (systemd, containers)
  -pidfile FILE          write the process id to FILE
`

var aserviceFlags = []string{"-c", "--config", "-check", "--check", "-f", "--foreground", "-pidfile", "--pidfile", "--help"}

// aserviceArgs is AService's parsed command line.
type aserviceArgs struct {
	dir        string
	check      bool
	foreground bool
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
		case "-f", "-foreground":
			a.foreground = true
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
	if a.check {
		return check(stdio.Out, a.dir)
	}
	inst, problems := config.Load(a.dir, config.Options{CreateMissing: true})
	printProblems(stdio.Err, "AService", problems)
	if problems.Fatal() {
		return ExitConfig
	}
	return serve(stdio, "AService", inst)
}

// check validates an instance directory and prints every problem.
func check(w io.Writer, dir string) int {
	_, problems := config.Load(dir, config.Options{})
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	errs, warns := 0, 0
	for _, p := range problems {
		if p.Severity >= config.Strict {
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
