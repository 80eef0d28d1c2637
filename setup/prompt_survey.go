package setup

import (
	"errors"
	"io"
	"os"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/terminal"
	"golang.org/x/term"
)

// This is the only file that imports survey: the rest of the package talks
// to a Prompter, so that the line and answers-file modes cannot drift
// from the terminal one (style.md, "each third-party library lives in one
// package").

// surveyPrompter asks on a terminal with survey: defaults shown, answers
// validated as they are typed (survey re-asks with the message), passwords
// hidden, menus chosen with the arrow keys.
type surveyPrompter struct {
	opts []survey.AskOpt
}

// newTerminalPrompter returns a survey Prompter when in and out are a
// terminal, and ok false otherwise (a pipe, a file, /dev/null).
func newTerminalPrompter(in io.Reader, out, errw io.Writer) (Prompter, bool) {
	fin, ok1 := in.(*os.File)
	fout, ok2 := out.(*os.File)
	if !ok1 || !ok2 || !term.IsTerminal(int(fin.Fd())) || !term.IsTerminal(int(fout.Fd())) {
		return nil, false
	}
	return &surveyPrompter{opts: []survey.AskOpt{survey.WithStdio(fin, fout, errw)}}, true
}

func (sp *surveyPrompter) ask(p survey.Prompt, validate func(string) error, ans any) error {
	opts := sp.opts
	if validate != nil {
		opts = append(opts[:len(opts):len(opts)], survey.WithValidator(func(v any) error {
			s, _ := v.(string)
			if o, ok := v.(survey.OptionAnswer); ok {
				s = o.Value
			}
			return validate(s)
		}))
	}
	err := survey.AskOne(p, ans, opts...)
	switch {
	case errors.Is(err, terminal.InterruptErr):
		return ErrCancelled
	case err != nil:
		return &InputError{Err: err}
	}
	return nil
}

func (sp *surveyPrompter) Input(p Prompt) (string, error) {
	var v string
	err := sp.ask(&survey.Input{Message: p.Message + ":", Default: p.Default, Help: p.Help}, p.Validate, &v)
	return v, keyed(p, err)
}

// Password hides the answer. An empty answer keeps the current password,
// which is never shown, not even as a default.
func (sp *surveyPrompter) Password(p Prompt) (string, error) {
	msg := p.Message + ":"
	if p.Default != "" {
		msg = p.Message + " (Enter keeps the current one):"
	}
	validate := func(v string) error {
		if v == "" {
			v = p.Default
		}
		if p.Validate != nil {
			return p.Validate(v)
		}
		return nil
	}
	var v string
	err := sp.ask(&survey.Password{Message: msg, Help: p.Help}, validate, &v)
	if v == "" {
		v = p.Default
	}
	return v, keyed(p, err)
}

func (sp *surveyPrompter) Confirm(p Prompt) (bool, error) {
	var v bool
	err := sp.ask(&survey.Confirm{Message: p.Message, Default: p.Default == "y", Help: p.Help}, nil, &v)
	if err == nil && p.Validate != nil {
		err = p.Validate(yn(v))
	}
	return v, keyed(p, err)
}

func (sp *surveyPrompter) Select(p Prompt) (string, error) {
	labels := make([]string, len(p.Options))
	def := ""
	for i, o := range p.Options {
		labels[i] = o.Label
		if o.Value == p.Default {
			def = o.Label
		}
	}
	sel := &survey.Select{Message: p.Message + ":", Options: labels, Help: p.Help}
	if def != "" {
		sel.Default = def
	}
	var i int
	err := sp.ask(sel, func(label string) error {
		if p.Validate == nil {
			return nil
		}
		v, err := pickOption(p.Options, label)
		if err != nil {
			return err
		}
		return p.Validate(v)
	}, &i)
	if err != nil {
		return "", keyed(p, err)
	}
	return p.Options[i].Value, nil
}

// keyed names the question in an InputError.
func keyed(p Prompt, err error) error {
	var ie *InputError
	if errors.As(err, &ie) && ie.Key == "" {
		ie.Key = p.Key
	}
	return err
}
