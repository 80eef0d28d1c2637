package setup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrCancelled is returned by a Prompter when the user gave up (Ctrl-C on a
// terminal), and by the dialogue when an answers file declines to go on.
var ErrCancelled = errors.New("setup: cancelled")

// Prompt is one question as a Prompter sees it.
type Prompt struct {
	Key     string // stable answer name, as in an answers file ("ldap.host")
	Message string // the question, in the installer's wording, without "(y/n)" or a default
	Help    string // one line about what the answer sets, from the parameter table

	// Default is what an empty answer means: a value for Input, "y" or "n"
	// for Confirm, an option's Value for Select. For Password it is the
	// current password, which is never shown; "" means there is none.
	Default string

	// Options are the choices of Select, in the order shown.
	Options []Option

	// Validate checks an answer (after the default was filled in) and says
	// what is wrong with it; the Prompter asks again with that message, or,
	// when it cannot ask again, returns the error. Nil accepts anything.
	Validate func(string) error
}

// Option is one choice of a Select prompt.
type Option struct {
	Value string // recorded in answers files ("imap+pop")
	Label string // shown ("Configure this instance for both IMAP4 and POP3 mail service")
}

// Prompter asks the installer's questions one at a time. There are three:
// survey prompts on a terminal (prompt_survey.go, the only file that
// imports survey), plain line prompts on standard input, and an answers
// file. The dialogue does not know which one it talks to, which is what
// makes the files they produce byte-identical for the same answers.
//
// Every method returns the answer already validated with Prompt.Validate,
// ErrCancelled when the user gave up, or another error when no answer can
// be had (end of input, an invalid answer in a file).
type Prompter interface {
	Input(p Prompt) (string, error)
	Password(p Prompt) (string, error)
	Confirm(p Prompt) (bool, error)
	Select(p Prompt) (string, error)
}

// InputError is an answer that cannot be had: standard input ended, or an
// answers file holds a value that does not validate. Main exits with
// ExitUsage for it.
type InputError struct {
	Key string
	Err error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.Key, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// parseYesNo reads a y/n answer with the table's bool grammar (y, yes, on,
// true, 1 and their opposites), so that an answers file may say "yes" as
// the *.cfg files do as well as the installer's "y".
func parseYesNo(s string) (bool, error) {
	v, err := yesNo.Check(strings.TrimSpace(s))
	if err != nil {
		return false, errors.New("answer y or n")
	}
	return v.(bool), nil
}

func yn(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

// pickOption finds the option an answer names: its number (as the
// Netscape installer's menus were answered), its Value or its Label,
// ignoring case.
func pickOption(opts []Option, s string) (string, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(opts) {
		return opts[n-1].Value, nil
	}
	for _, o := range opts {
		if strings.EqualFold(s, o.Value) || strings.EqualFold(s, o.Label) {
			return o.Value, nil
		}
	}
	names := make([]string, len(opts))
	for i, o := range opts {
		names[i] = fmt.Sprintf("%d or %s", i+1, o.Value)
	}
	return "", fmt.Errorf("answer %s", strings.Join(names, ", "))
}

// linePrompter asks in plain lines, for standard input that is not a
// terminal (`mmp-setup < answers.txt`): the question in the installer's
// wording with the default in brackets, one line read per answer, an empty
// line taking the default. An invalid answer is reported and asked again,
// so a script fails at the end of its input rather than with a wrong file.
// Passwords are read like any line: there is no terminal to hide them on.
type linePrompter struct {
	in  *bufio.Reader
	out io.Writer
}

func newLinePrompter(in io.Reader, out io.Writer) *linePrompter {
	return &linePrompter{in: bufio.NewReader(in), out: out}
}

// ask prints the question and reads answers until one validates. The
// answer read is echoed after the question (a password as stars), since
// input that is not a terminal is not echoed by anyone and a transcript
// of "mmp-setup < answers.txt" should read like a session.
func (lp *linePrompter) ask(p Prompt, shown string, secret bool, convert func(string) (string, error)) (string, error) {
	for {
		if shown != "" {
			fmt.Fprintf(lp.out, "%s [%s]: ", p.Message, shown)
		} else {
			fmt.Fprintf(lp.out, "%s: ", p.Message)
		}
		line, err := lp.in.ReadString('\n')
		if err != nil && (line == "" || err != io.EOF) {
			fmt.Fprintln(lp.out)
			if err == io.EOF {
				err = fmt.Errorf("standard input ended before %q was answered", p.Message)
			}
			return "", &InputError{Key: p.Key, Err: err}
		}
		line = strings.TrimRight(line, "\r\n")
		if secret && line != "" {
			fmt.Fprintln(lp.out, "********")
		} else {
			fmt.Fprintln(lp.out, line)
		}
		v := line
		if v == "" {
			v = p.Default
		}
		if convert != nil {
			if v, err = convert(v); err != nil {
				fmt.Fprintf(lp.out, "  %v\n", err)
				continue
			}
		}
		if p.Validate != nil {
			if err := p.Validate(v); err != nil {
				fmt.Fprintf(lp.out, "  %v\n", err)
				continue
			}
		}
		return v, nil
	}
}

func (lp *linePrompter) Input(p Prompt) (string, error) { return lp.ask(p, p.Default, false, nil) }

func (lp *linePrompter) Password(p Prompt) (string, error) {
	shown := ""
	if p.Default != "" {
		shown = "Enter keeps the current one"
	}
	return lp.ask(p, shown, true, nil)
}

func (lp *linePrompter) Confirm(p Prompt) (bool, error) {
	q := p
	q.Message += " (y/n)"
	v, err := lp.ask(q, p.Default, false, func(s string) (string, error) {
		b, err := parseYesNo(s)
		return yn(b), err
	})
	return v == "y", err
}

func (lp *linePrompter) Select(p Prompt) (string, error) {
	for i, o := range p.Options {
		fmt.Fprintf(lp.out, "  %d - %s\n", i+1, o.Label)
	}
	shown := p.Default
	for i, o := range p.Options {
		if o.Value == p.Default {
			shown = strconv.Itoa(i + 1)
		}
	}
	return lp.ask(p, shown, false, func(s string) (string, error) { return pickOption(p.Options, s) })
}

// answersPrompter answers from an answers file (`--answers FILE`). A
// question the file does not answer takes its default, except that a y/n
// question is answered y when the file answers one of the questions it
// leads to (bind.dn without bind), so that a file need only list the
// values it sets. An invalid value cannot be asked again: it is an
// InputError.
type answersPrompter struct {
	answers map[string]string
	used    map[string]bool
	// implied reports whether the file answers a question that only a
	// yes to the y/n question key leads to.
	implied func(key string) bool
}

func (ap *answersPrompter) value(p Prompt) (string, bool) {
	v, ok := ap.answers[p.Key]
	if ok {
		ap.used[p.Key] = true
	}
	return v, ok
}

func (ap *answersPrompter) check(p Prompt, v string) (string, error) {
	if p.Validate != nil {
		if err := p.Validate(v); err != nil {
			return "", &InputError{Key: p.Key, Err: err}
		}
	}
	return v, nil
}

func (ap *answersPrompter) Input(p Prompt) (string, error) {
	v, ok := ap.value(p)
	if !ok || v == "" {
		v = p.Default
	}
	return ap.check(p, v)
}

func (ap *answersPrompter) Password(p Prompt) (string, error) { return ap.Input(p) }

func (ap *answersPrompter) Confirm(p Prompt) (bool, error) {
	v, ok := ap.value(p)
	switch {
	case ok && v != "":
	case ap.implied != nil && ap.implied(p.Key):
		v = "y"
	default:
		v = p.Default
	}
	b, err := parseYesNo(v)
	if err != nil {
		return false, &InputError{Key: p.Key, Err: err}
	}
	_, err = ap.check(p, yn(b))
	return b, err
}

func (ap *answersPrompter) Select(p Prompt) (string, error) {
	v, ok := ap.value(p)
	if !ok || v == "" {
		v = p.Default
	}
	o, err := pickOption(p.Options, v)
	if err != nil {
		return "", &InputError{Key: p.Key, Err: err}
	}
	return ap.check(p, o)
}
