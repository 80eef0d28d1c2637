// Package legacy implements the Netscape Messaging Multiplexor 4.x command
// line shared by ImapProxy, PopProxy and SmtpProxy (docs/reference.md §5.1, Netscape Messaging Server 4.x Administrator's Guide, ch. 13
// Table 13.4), the Netscape environment variables it falls back on, and the
// `install` output that admins paste into ImapMMP.config.
//
// The Netscape dialect cannot be parsed by a getopt-style parser: options
// are multi-letter words after a single dash (`-ba`, `-vdd`, `-ps`), `-s`
// takes six positional arguments, and `-h` alone lists the parameters while
// `-h host` names the directory server. Parse matches every option exactly
// as documented and never splits one into letters.
//
// Alongside the Netscape options, Go-style long options are accepted:
// `--config FILE`, `--help`, and `--Name value` (or `--Name=value`) for any
// parameter that applies to the service.
package legacy

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// Mode is what the command line asks for.
type Mode int

const (
	Run     Mode = iota // start the proxy
	Install             // print the configuration lines and exit (Netscape `install`)
	List                // `-h` alone: list the parameters with their effective values
	Probe               // --probe: check the directory, stores and relays the configuration names, and exit
	Help                // `--help`: usage
)

// SSLArgs are the six arguments of `-s`, in their documented order.
var SSLArgs = []*param.Param{
	param.SSLSecmodFile.Param,
	param.SSLCertFile.Param,
	param.SSLKeyFile.Param,
	param.SSLKeyPasswd.Param,
	param.SSLCipherSpecs.Param,
	param.SSLCertNicknames.Param,
}

// Command is a parsed command line.
type Command struct {
	Mode       Mode
	Settings   []param.Setting // in the order given; later ones win
	ConfigFile string          // --config: an ImapMMP.config or *AService.cfg file
	Warnings   []string
}

// An Error is a command-line mistake; it names the option.
type Error struct {
	Option string
	Err    error
}

func (e *Error) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Applies reports whether a parameter is meaningful for a Netscape-style
// front end of the given service (param.IMAP, POP or SMTP): it belongs to
// that service, or it is one of the Netscape-only or daemon-wide
// parameters the front end translates.
func Applies(p *param.Param, service param.Where) bool {
	if p.Where&service != 0 {
		return true
	}
	return p.Where&param.N4 != 0 && p.Where&param.Proxies == 0
}

// Parse reads the arguments after the program name.
func Parse(service param.Where, args []string) (*Command, error) {
	c := &Command{}
	if len(args) > 0 && args[0] == "install" {
		c.Mode = Install
		args = args[1:]
	}
	set := func(p *param.Param, raw, spelled string) error {
		if !Applies(p, service) {
			// A script may pass one option set to ImapProxy and
			// PopProxy alike; the other program's options are
			// ignored, as its environment variables are.
			owners := ownersOf(p)
			if owners == "" {
				return &Error{spelled, fmt.Errorf("%s does not apply to %s", p.Name, service.ServiceName())}
			}
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s is an option of %s, not of %s; ignored",
				spelled, p.Name, owners, service.ServiceName()))
			return nil
		}
		if _, err := p.Check(raw); err != nil {
			return &Error{spelled, fmt.Errorf("%s: %w", p.Name, err)}
		}
		c.Settings = append(c.Settings, param.Setting{Param: p, Raw: raw,
			Origin: param.Origin{Kind: param.FromFlag, Name: spelled}})
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", &Error{a, errors.New("needs an argument")}
			}
			i++
			return args[i], nil
		}
		switch {
		case a == "-h":
			// -h alone, or followed by another option, lists the
			// parameters; -h host[:port] sets LDAPHost.
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
				if c.Mode != Install {
					c.Mode = List
				}
				continue
			}
			i++
			if err := set(param.LDAPHost.Param, args[i], a); err != nil {
				return nil, err
			}
		case a == "-s":
			if i+len(SSLArgs) >= len(args) {
				return nil, &Error{a, fmt.Errorf("needs six arguments: %s (give \"\" for an empty one)", sslArgNames())}
			}
			if err := set(param.SSLEnable.Param, "yes", a); err != nil {
				return nil, err
			}
			for _, p := range SSLArgs {
				i++
				v := args[i]
				// The sixth argument is one certificate name (Netscape Messaging Server 4.x Administrator's Guide, ch. 13,
				// Table 13.5), which may contain blanks; in the list
				// SSLCertNicknames such a name is quoted.
				if p == param.SSLCertNicknames.Param && strings.ContainsAny(v, " \t") && !strings.Contains(v, `"`) {
					v = `"` + strings.Trim(v, " \t") + `"`
				}
				if err := set(p, v, a); err != nil {
					return nil, err
				}
			}
		case a == "-pre":
			if err := set(param.PreAuth.Param, "yes", a); err != nil {
				return nil, err
			}
		case a == "-n":
			v, err := next()
			if err != nil {
				return nil, err
			}
			c.Warnings = append(c.Warnings, fmt.Sprintf("-n %s: instance names apply to Windows NT services; ignored", v))
		case a == "--help" || a == "-help" || a == "-?":
			c.Mode = Help
		case a == "--probe":
			c.Mode = Probe
		case a == "--config" || strings.HasPrefix(a, "--config="):
			v, ok := strings.CutPrefix(a, "--config=")
			if !ok {
				var err error
				if v, err = next(); err != nil {
					return nil, err
				}
			}
			c.ConfigFile = v
		case strings.HasPrefix(a, "--"):
			name, v, hasValue := strings.Cut(a[2:], "=")
			p := param.Lookup(name)
			if p == nil {
				return nil, &Error{a, unknown("--"+name, longNames(service))}
			}
			if !hasValue {
				var err error
				if v, err = next(); err != nil {
					return nil, err
				}
			}
			if err := set(p, v, "--"+name); err != nil {
				return nil, err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			p := param.ByFlag(a)
			if p == nil {
				return nil, &Error{a, unknown(a, flagNames())}
			}
			v, err := next()
			if err != nil {
				return nil, err
			}
			if err := set(p, v, a); err != nil {
				return nil, err
			}
		default:
			return nil, &Error{a, errors.New(`unexpected argument; options start with "-", and "install" must come first`)}
		}
	}
	return c, nil
}

// ownersOf names the front ends a parameter applies to ("ImapProxy and
// PopProxy"), "" if none.
func ownersOf(p *param.Param) string {
	var names []string
	for _, w := range []param.Where{param.IMAP, param.POP, param.SMTP} {
		if Applies(p, w) {
			names = append(names, w.ServiceName())
		}
	}
	if len(names) > 1 {
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return strings.Join(names, "")
}

func sslArgNames() string {
	var s []string
	for _, p := range SSLArgs {
		s = append(s, p.EnvName())
	}
	return strings.Join(s, " ")
}

// unknown builds an "unknown option" error with the nearest known spelling.
func unknown(opt string, known []string) error {
	if best := param.Closest(opt, known); best != "" {
		return fmt.Errorf("unknown option (did you mean %s?)", best)
	}
	return errors.New("unknown option; -h alone lists the parameters, --help the options")
}

func flagNames() []string {
	names := []string{"-h", "-s", "-pre", "-n"}
	for _, p := range param.All() {
		if p.Flag != "" {
			names = append(names, p.Flag)
		}
	}
	return names
}

func longNames(service param.Where) []string {
	names := []string{"--config", "--help", "--probe"}
	for _, p := range param.All() {
		if Applies(p, service) {
			names = append(names, "--"+p.Name)
		}
	}
	return names
}

// FromEnv returns the parameters found among environment entries
// ("NAME=value", as os.Environ gives them): the Netscape variables, and
// every other parameter of the service by its Sun name, since "any
// configuration parameter can be set as either an environment variable or
// command-line option" (Netscape Messaging Server 4.x Administrator's
// Guide) and `install` prints `--Timeout 900` as Timeout=900 for the
// ImapMMP script to export. Netscape names match ignoring case (docs/reference.md
// §2.0); a Sun name must be spelled as the table spells it, so that a
// variable of another program such as TIMEOUT is not taken for Timeout.
// Only parameters that apply to the service are read, so unrelated
// variables such as PATH are never mistaken for one. A value that does not
// parse is returned as an error naming the variable.
func FromEnv(service param.Where, environ []string) ([]param.Setting, []error) {
	var out []param.Setting
	var errs []error
	for _, kv := range environ {
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		p := param.Lookup(name)
		if p == nil || !Applies(p, service) || p.Where&param.N4 == 0 && !slices.Contains(p.Names(), name) {
			continue
		}
		if _, err := p.Check(v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", name, err))
			continue
		}
		out = append(out, param.Setting{Param: p, Raw: v, Origin: param.Origin{Kind: param.FromEnv, Name: name}})
	}
	// os.Environ order is arbitrary; give a stable order.
	slices.SortStableFunc(out, func(a, b param.Setting) int { return a.Param.Index() - b.Param.Index() })
	return out, errs
}

// WriteInstall prints the command line's settings as the Netscape
// configuration lines `NAME=value; export NAME`, one per option given, in
// the order given (docs/reference.md §5.1 `install`).
func WriteInstall(w io.Writer, c *Command) error {
	for _, s := range c.Settings {
		if _, err := fmt.Fprintln(w, cfgfmt.FormatEnv(s.Param.EnvName(), s.Raw)); err != nil {
			return err
		}
	}
	return nil
}
