// Package param is the single table of the Messaging Multiplexor's
// configuration parameters (docs/reference.md §2): every name and alias, the files and
// contexts each may appear in, its type, its defaults, its Netscape 4.x
// command-line flag and environment name, and a one-line description.
//
// Everything that needs to know about parameters reads this table: the
// configuration loader and the check command, the Netscape command line,
// `-h` and `install`, the *-def.cfg templates, the setup wizard and the man
// pages. No other place lists the parameters.
//
// Each parameter is a package-level variable of type *Typed[T]; T is the
// Go type of its value (bool, int, time.Duration, string, []string, or a
// grammar type from cfgfmt). Package config resolves values and hands them
// out through config.Get(values, param.LdapUrl), so the rest of the code is
// typed and never parses a value twice.
//
// Typical usage:
//
//	p := param.Lookup("ldapurl")          // case-insensitive, aliases too
//	v, err := p.Check("ldap://h/o=x")     // validate a raw value
//	for _, p := range param.All() { ... } // table order: docs, templates
//
// Unlike the layering sketch in style.md, param imports cfgfmt: the grammar
// of each value lives in cfgfmt, and binding a parameter to its grammar here
// is what lets the table stay the one place that knows both.
package param

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Where is a set of files and contexts a parameter may appear in (docs/reference.md §2.0).
type Where uint16

const (
	AService Where = 1 << iota // A: AService.cfg
	IMAP                       // I: ImapProxyAService.cfg
	POP                        // P: PopProxyAService.cfg
	SMTP                       // S: SmtpProxyAService.cfg
	VDMap                      // V: a per-virtual-domain property in the vdmap file
	N4                         // Netscape 4.x environment variable and command line

	// Proxies is I, P and S together.
	Proxies = IMAP | POP | SMTP
)

var whereLetters = []struct {
	w      Where
	letter string
}{{AService, "A"}, {IMAP, "I"}, {POP, "P"}, {SMTP, "S"}, {VDMap, "V"}, {N4, "N4"}}

// String gives the letters of docs/reference.md §2.0, e.g. "I P S V".
func (w Where) String() string {
	var s []string
	for _, l := range whereLetters {
		if w&l.w != 0 {
			s = append(s, l.letter)
		}
	}
	return strings.Join(s, " ")
}

// Has reports whether w includes every context of c.
func (w Where) Has(c Where) bool { return w&c == c }

// ServiceName is the protocol's name as the product writes it.
func (w Where) ServiceName() string {
	switch w {
	case AService:
		return "AService"
	case IMAP:
		return "ImapProxy"
	case POP:
		return "PopProxy"
	case SMTP:
		return "SmtpProxy"
	}
	return w.String()
}

// FileName is the S6 configuration file of a single context, e.g.
// "ImapProxyAService.cfg"; "" for contexts that are not files.
func (w Where) FileName() string {
	switch w {
	case AService:
		return "AService.cfg"
	case IMAP, POP, SMTP:
		return w.ServiceName() + "AService.cfg"
	}
	return ""
}

// Template says how a parameter appears in the generated *-def.cfg files.
type Template int

const (
	// Omit: not written (vdmap-only, Netscape-only, deprecated, or
	// Go extensions that most sites do not need).
	Omit Template = iota
	// Live: written as "default:Name value".
	Live
	// Commented: written as "#default:Name value", the way the originals
	// ship the SSL block and optional settings.
	Commented
)

// AtStartNote is what templates and man pages say of an AtStart parameter.
const AtStartNote = "Read when the process starts; a refresh does not change it."

// Param describes one configuration parameter. The fields are filled in
// by the table in table.go and never change afterwards.
type Param struct {
	Name    string   // canonical spelling, as written in files we generate
	Aliases []string // accepted on input, never written (docs/reference.md §2.11, §7)
	Where   Where    // files and contexts it is allowed in
	Group   string   // heading in templates, `-h` and the man pages
	Type    string   // value syntax shown to people, e.g. "bool", "secs", "[IP:]port|..."
	Doc     string   // one line: what it does

	// Default is the value when nothing sets it, as it would be written in
	// a file; "" means unset. Defaults overrides it per context: a key
	// IMAP, POP or SMTP for one service, N4 for the Netscape front ends.
	Default  string
	Defaults map[Where]string

	// Example is a plausible value for templates and docs when there is no
	// default ("" when the default serves).
	Example  string
	Template Template

	// Flag is the Netscape 4.x command-line option ("-p"); Env its
	// environment variable name when that differs from Name (UidSearch for
	// SearchFormat). Both are "" when the parameter has none.
	Flag string
	Env  string

	// Inert are files where Sun's documents show the parameter although
	// it has no effect there (AuthServiceTTL -1 in ImapProxyAService.cfg
	// and SmtpProxyAService.cfg); the loader takes its default value there
	// without a word and warns about any other.
	Inert Where

	// AtStart marks a parameter the process reads only when it starts
	// (a refresh lists a change of it and says that the running process
	// keeps its value until it is restarted); templates and man pages
	// say AtStartNote.
	AtStart bool

	Secret     bool   // a password: never shown in listings or logs
	Deprecated string // why it is deprecated and what replaces it
	Era        string // where it comes from: "N4+", "S6", "7.x", "Go" ...

	// MinAdvised is a lower bound below which the value works but breaks a
	// standard (Timeout); the check command warns.
	MinAdvised map[Where]int64

	index int
	check func(raw string) (any, error)
}

// Typed is a parameter whose values have the Go type T.
type Typed[T any] struct {
	*Param
}

// Parse converts a raw value, as found in a file, the environment or on the
// command line, into T.
func (p *Typed[T]) Parse(raw string) (T, error) {
	v, err := p.check(raw)
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// Check validates a raw value and returns it parsed, as an any whose
// dynamic type is the parameter's T.
func (p *Param) Check(raw string) (any, error) { return p.check(raw) }

// Index is the parameter's position in the table, dense from 0, so that
// resolved values can live in a slice.
func (p *Param) Index() int { return p.index }

// DefaultFor returns the default in a context: the per-context default if
// there is one (IMAP, POP, SMTP or N4; for N4 in a service, the service's
// N4 default wins), else Default.
func (p *Param) DefaultFor(ctx Where) string {
	if ctx&N4 != 0 {
		if v, ok := p.Defaults[ctx]; ok {
			return v
		}
		if v, ok := p.Defaults[N4]; ok {
			return v
		}
	}
	if v, ok := p.Defaults[ctx&^N4]; ok {
		return v
	}
	return p.Default
}

// EnvName is the Netscape environment variable for the parameter.
func (p *Param) EnvName() string {
	if p.Env != "" {
		return p.Env
	}
	return p.Name
}

// Names lists the canonical name and every alias.
func (p *Param) Names() []string { return append([]string{p.Name}, p.Aliases...) }

var (
	table  []*Param
	byName = map[string]*Param{}
	byFlag = map[string]*Param{}
)

// define adds a parameter to the table with its value grammar. It panics
// on a name, alias or flag used twice: a table mistake must not survive
// the first test run.
func define[T any](p *Param, parse func(string) (T, error)) *Typed[T] {
	p.check = func(raw string) (any, error) {
		v, err := parse(raw)
		if err != nil && raw == "" {
			if p.Default != "" {
				return v, errors.New("needs a value")
			}
			// An empty value unsets a parameter that has no default.
			var zero T
			return zero, nil
		}
		return v, err
	}
	p.index = len(table)
	for _, n := range p.Names() {
		k := strings.ToLower(n)
		// An alias differing only in case (LdapURL) is the same key.
		if q, dup := byName[k]; dup && q != p {
			panic(fmt.Sprintf("param: %s defined twice", n))
		}
		byName[k] = p
	}
	if p.Env != "" {
		k := strings.ToLower(p.Env)
		if q, dup := byName[k]; dup && q != p {
			panic(fmt.Sprintf("param: environment name %s of %s is another parameter's name", p.Env, p.Name))
		}
		byName[k] = p
	}
	if p.Flag != "" {
		if _, dup := byFlag[p.Flag]; dup {
			panic(fmt.Sprintf("param: flag %s defined twice", p.Flag))
		}
		byFlag[p.Flag] = p
	}
	table = append(table, p)
	return &Typed[T]{p}
}

// All returns the table in its canonical order.
func All() []*Param { return slices.Clone(table) }

// In returns the parameters allowed in any of the contexts of w, in table order.
func In(w Where) []*Param {
	var ps []*Param
	for _, p := range table {
		if p.Where&w != 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

// Lookup finds a parameter by canonical name, alias or Netscape
// environment name, ignoring case (docs/reference.md §2.0, §7.21). It returns nil for
// an unknown name.
func Lookup(name string) *Param {
	return byName[strings.ToLower(name)]
}

// ByFlag finds the parameter set by a Netscape command-line option such as
// "-vd"; the match is exact, as Netscape's was.
func ByFlag(flag string) *Param { return byFlag[flag] }

// Suggest returns the parameter an unknown name most likely meant, for
// "did you mean" messages, or "" when nothing is close. It compares the
// name with every canonical name and documented alias (SSLCipherSec is
// near the alias SSLCipherSecs of SSLCipherSpecs) by edit distance, and
// failing that looks for a known name of five letters or more that the
// unknown one starts or ends with: ClientTimeout means Timeout.
func Suggest(name string) string {
	names := make([]string, 0, len(byName))
	for _, p := range table {
		names = append(names, p.Names()...)
	}
	if n := Closest(name, names); n != "" {
		return Lookup(n).Name
	}
	w := strings.ToLower(name)
	best := ""
	for _, n := range names {
		k := strings.ToLower(n)
		if len(k) >= 5 && len(k) < len(w) && len(k) > len(best) && (strings.HasPrefix(w, k) || strings.HasSuffix(w, k)) {
			best = n
		}
	}
	if best != "" {
		return Lookup(best).Name
	}
	return ""
}

// Closest returns the candidate nearest to word ignoring case, or "" when
// none is near enough to be a likely typo.
func Closest(word string, candidates []string) string {
	best, bestDist := "", len(word)/3+2
	w := strings.ToLower(word)
	for _, c := range candidates {
		if d := distance(w, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between two strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
