package setup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// answerSet is the answers of one round, in the order they were given.
type answerSet struct {
	keys []string
	m    map[string]string
}

func newAnswerSet() *answerSet { return &answerSet{m: map[string]string{}} }

func (a *answerSet) set(k, v string) {
	if _, ok := a.m[k]; !ok {
		a.keys = append(a.keys, k)
	}
	a.m[k] = v
}

func (a *answerSet) get(k string) string { return a.m[k] }

func (a *answerSet) has(k string) bool { _, ok := a.m[k]; return ok }

// session is one run of the dialogue.
type session struct {
	p      Prompter
	out    io.Writer
	batch  bool // answers file: nothing can be asked again
	n4Flag bool // --n4: Netscape files for a new instance

	hostname string
	probe    func(s *session) (string, error) // the LDAP test

	qs, closing []*question

	ans  *answerSet // this round
	prev *answerSet // the round before, whose answers are the defaults

	found []instance // instances under the root answered this round
	cur   *current   // the instance being changed; nil for a new one

	// foreignReplay is set when the instance's ReplayFormat is neither
	// the default nor the %A[attr] the replay question writes: the
	// question is then not asked, so that a no cannot erase it.
	foreignReplay bool
}

// run asks every question, shows the summary and goes round again until
// the answers are accepted; then it offers the LDAP test.
func (s *session) run() error {
	for {
		s.ans = newAnswerSet()
		s.found, s.cur, s.foreignReplay = nil, nil, false
		for _, q := range s.qs {
			if !s.applies(q) {
				continue
			}
			if err := s.askInto(q, s.defaultFor(q)); err != nil {
				return err
			}
			if err := s.after(q); err != nil {
				return err
			}
		}
		s.summary()
		if err := s.finalCheck(); err != nil {
			fmt.Fprintf(s.out, "\n%v\n", err)
			if s.batch {
				return &InputError{Key: "answers", Err: err}
			}
			fmt.Fprintln(s.out, "Going through the prompts again.")
			s.prev = s.ans
			continue
		}
		ok, err := s.closingYes("confirm")
		if err != nil {
			return err
		}
		if !ok {
			if s.batch {
				return ErrCancelled
			}
			s.prev = s.ans
			continue
		}
		if again, err := s.ldapTest(); err != nil || !again {
			return err
		}
		s.prev = s.ans
	}
}

// applies reports whether q is asked: its gate was answered yes and its
// condition holds.
func (s *session) applies(q *question) bool {
	if q.Gate != "" && s.ans.get(q.Gate) != "y" {
		return false
	}
	return q.When == nil || q.When(s)
}

// defaultFor is the answer offered: the previous round's, else the
// instance's current value, else the table's default.
func (s *session) defaultFor(q *question) string {
	var opts []Option
	if q.Kind == kindChoice {
		opts = q.Options(s)
	}
	valid := func(v string) bool {
		if opts == nil {
			return true
		}
		for _, o := range opts {
			if o.Value == v {
				return true
			}
		}
		return false
	}
	if s.prev != nil && s.prev.has(q.Key) && valid(s.prev.get(q.Key)) {
		return s.prev.get(q.Key)
	}
	if s.cur != nil {
		if v, ok := s.cur.answers[q.Key]; ok && valid(v) {
			return v
		}
	}
	if q.Default != nil {
		return q.Default(s)
	}
	return ""
}

// askInto asks q through the Prompter and records the answer.
func (s *session) askInto(q *question, def string) error {
	p := Prompt{Key: q.Key, Message: q.Text(s), Default: def,
		Validate: func(v string) error { return s.validate(q, v) }}
	if q.Param != nil {
		p.Help = q.Param.Name + ": " + q.Param.Doc
	}
	var v string
	var err error
	switch q.Kind {
	case kindInput:
		v, err = s.p.Input(p)
	case kindSecret:
		v, err = s.p.Password(p)
	case kindYesNo:
		var b bool
		b, err = s.p.Confirm(p)
		v = yn(b)
	case kindChoice:
		p.Options = q.Options(s)
		v, err = s.p.Select(p)
	}
	if err != nil {
		return err
	}
	s.ans.set(q.Key, v)
	return nil
}

// validate checks an answer against its parameter's grammar in the
// table, then against what the installer itself needs of it.
func (s *session) validate(q *question, v string) error {
	if q.Kind == kindInput || q.Kind == kindSecret {
		if v == "" {
			if q.Required {
				return errors.New("an answer is needed")
			}
			return nil
		}
		if q.Param != nil {
			if _, err := q.Param.Check(v); err != nil {
				return err
			}
		}
		if err := writable(v); err != nil {
			return err
		}
	}
	if q.Check != nil {
		return q.Check(s, v)
	}
	return nil
}

// writable refuses a value that no configuration file can hold: the *.cfg
// files have no escapes, so a value that needs quotes cannot contain one.
func writable(v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return errors.New("the answer contains a line break")
	}
	needQuotes := v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t' || v[0] == '"'
	if needQuotes && strings.Contains(v, `"`) {
		return errors.New(`a value with blanks at either end cannot also contain '"'`)
	}
	return nil
}

// after runs what an answer leads to: the root decides which instances
// exist, the instance which current values serve as defaults.
func (s *session) after(q *question) error {
	switch q.Key {
	case "root":
		found, err := scanInstances(s.ans.get("root"))
		if err != nil {
			return err
		}
		s.found = found
	case "instance":
		s.cur = nil
		if s.ans.get("mode") != "modify" {
			return nil
		}
		for _, in := range s.found {
			if in.name == s.ans.get("instance") {
				cur, notes := loadCurrent(in)
				for _, n := range notes {
					fmt.Fprintf(s.out, "note: %s\n", n)
				}
				s.cur = cur
				s.foreignReplay = cur.foreignReplay
				if s.n4Flag && !in.n4 {
					fmt.Fprintf(s.out, "note: %s has Sun 6 style files and keeps them; --n4 applies to new instances\n", in.name)
				}
			}
		}
	}
	return nil
}

// closingYes asks one of the closing questions, whose default is always
// the table's: a round that was refused must not default to refusing.
func (s *session) closingYes(key string) (bool, error) {
	for _, q := range s.closing {
		if q.Key == key {
			if err := s.askInto(q, q.Default(s)); err != nil {
				return false, err
			}
			return s.ans.get(key) == "y", nil
		}
	}
	panic("setup: no closing question " + key)
}

// ldapTest offers the LDAP test. It returns again=true when the user
// wants to go back through the prompts after a failure.
func (s *session) ldapTest() (again bool, err error) {
	test, err := s.closingYes("ldap.test")
	if err != nil || !test {
		return false, err
	}
	fmt.Fprintln(s.out, "Testing the LDAP settings ...")
	msg, err := s.probe(s)
	if err == nil {
		fmt.Fprintf(s.out, "LDAP test passed: %s\n", msg)
		return false, nil
	}
	fmt.Fprintf(s.out, "LDAP test failed: %v\n", err)
	ignore, err := s.closingYes("ldap.ignore")
	if err != nil || ignore {
		return false, err
	}
	if s.batch {
		return false, ErrCancelled
	}
	fmt.Fprintln(s.out, "Going through the prompts again.")
	return true, nil
}

// summary shows every answer of the round, passwords masked.
func (s *session) summary() {
	fmt.Fprintf(s.out, "\nSummary of the configuration of %s (%s):\n", s.dir(), s.styleName())
	labels := map[string]*question{}
	for _, q := range s.qs {
		labels[q.Key] = q
	}
	type row struct{ label, value string }
	var rows []row
	for _, k := range s.ans.keys {
		q := labels[k]
		v := s.ans.get(k)
		if base, ok := strings.CutSuffix(k, ".custom"); ok {
			// "Override X (y/n)": a yes is followed by X itself; a no
			// means X keeps its default, which is what to show.
			if v == "y" {
				continue
			}
			if vq := labels[base]; vq != nil {
				q, v = vq, "(default) "+vq.Default(s)
			}
		}
		switch {
		case q.Kind == kindSecret && v != "":
			v = "********"
		case v == "":
			v = "(none)"
		}
		rows = append(rows, row{q.Label + ":", v})
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.label))
	}
	for _, r := range rows {
		fmt.Fprintf(s.out, "  %-*s %s\n", width, r.label, r.value)
	}
	fmt.Fprintln(s.out)
}

// finalCheck catches what no single answer shows: a ServiceList the
// daemon could not bind.
func (s *session) finalCheck() error {
	if err := s.portClash(); err != nil {
		return err
	}
	if s.n4() {
		return nil
	}
	entries, err := s.serviceList()
	if err != nil {
		return err
	}
	if _, err := param.ServiceList.Check(cfgfmt.FormatServiceList(entries)); err != nil {
		return fmt.Errorf("ServiceList: %v", err)
	}
	return nil
}

// --- what the answers so far mean ---

func (s *session) modifying() bool { return s.cur != nil }

// n4 reports whether the instance has Netscape files: an existing
// instance keeps its own kind of files, a new one follows --n4.
func (s *session) n4() bool {
	if s.cur != nil {
		return s.cur.inst.n4
	}
	return s.n4Flag
}

func (s *session) styleName() string {
	kind := "Sun 6 style files"
	if s.n4() {
		kind = "Netscape 4.x style files"
	}
	if s.modifying() {
		return "changing an existing instance, " + kind
	}
	return "new instance, " + kind
}

// ctx is the parameter context whose defaults a question offers.
func (s *session) ctx(w param.Where) param.Where {
	if s.n4() {
		return w | param.N4
	}
	return w
}

// protocols are the proxies the service answer selects.
func (s *session) protocols() []protocol { return chosen(s.ans.get("service")) }

func (s *session) uses(w param.Where) bool {
	for _, p := range s.protocols() {
		if p.where == w {
			return true
		}
	}
	return false
}

// primary is the first service chosen; its defaults are offered for the
// answers all services share.
func (s *session) primary() param.Where {
	if ps := s.protocols(); len(ps) > 0 {
		return ps[0].where
	}
	return param.IMAP
}

func (s *session) programs() string {
	var names []string
	for _, p := range s.protocols() {
		names = append(names, p.prog)
	}
	return strings.Join(names, " and ")
}

// dir is the instance directory.
func (s *session) dir() string {
	return filepath.Join(s.ans.get("root"), s.ans.get("instance"))
}

// path resolves a file name answered relative to the instance directory,
// as the daemon does.
func (s *session) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(s.dir(), name)
}

func (s *session) exists(name string) bool {
	_, err := os.Stat(s.path(name))
	return err == nil
}

func (s *session) foundNames() []string {
	names := make([]string, len(s.found))
	for i, f := range s.found {
		names[i] = f.name
	}
	return names
}

func (s *session) instanceOptions() []Option {
	var opts []Option
	for _, f := range s.found {
		kind := "Sun 6 style"
		if f.n4 {
			kind = "Netscape 4.x style"
		}
		opts = append(opts, Option{Value: f.name, Label: f.name + " (" + kind + ")"})
	}
	return opts
}

// listen returns the plain (non-SSL) addresses a protocol listens on.
func (s *session) listen(pr protocol) []cfgfmt.ListenAddr {
	spec := param.ListenPort.DefaultFor(pr.where | param.N4)
	if s.ans.get(pr.key+".port.custom") == "y" {
		spec = s.ans.get(pr.key + ".port")
	}
	a, _ := cfgfmt.ParsePortSpec(spec)
	return a
}

// sslListen returns the SSL addresses of a protocol, none without SSL.
func (s *session) sslListen(pr protocol) []cfgfmt.ListenAddr {
	if s.ans.get(pr.key+".ssl") != "y" {
		return nil
	}
	spec := param.SSLListenPort.DefaultFor(pr.where | param.N4)
	if s.ans.get(pr.key+".sslport.custom") == "y" {
		spec = s.ans.get(pr.key + ".sslport")
	}
	a, _ := cfgfmt.ParsePortSpec(spec)
	return a
}

// checkPorts refuses a port that another answer of this round already
// listens on: one process cannot bind it twice, and 0.0.0.0:143 and
// 127.0.0.1:143 clash too.
func (s *session) checkPorts(key, v string) error {
	mine, err := cfgfmt.ParsePortSpec(v)
	if err != nil {
		return err
	}
	for _, pr := range s.protocols() {
		for _, other := range []struct {
			key   string
			addrs func(protocol) []cfgfmt.ListenAddr
		}{{pr.key + ".port", s.listen}, {pr.key + ".sslport", s.sslListen}} {
			if other.key == key || !s.ans.has(other.key+".custom") {
				continue
			}
			for _, a := range other.addrs(pr) {
				for _, b := range mine {
					if a.Port == b.Port && (!a.IP.IsValid() || !b.IP.IsValid() || a.IP == b.IP) {
						return fmt.Errorf("%s is already taken by %s", b, other.key)
					}
				}
			}
		}
	}
	return nil
}

// portClash checks every listening address of the round against every
// other, defaults included, which the per-question check cannot see.
func (s *session) portClash() error {
	type use struct {
		what string
		addr cfgfmt.ListenAddr
	}
	var all []use
	for _, pr := range s.protocols() {
		for _, a := range s.listen(pr) {
			all = append(all, use{pr.name + " port", a})
		}
		for _, a := range s.sslListen(pr) {
			all = append(all, use{pr.name + " SSL port", a})
		}
	}
	for i, a := range all {
		for _, b := range all[:i] {
			if a.addr.Port == b.addr.Port && (!a.addr.IP.IsValid() || !b.addr.IP.IsValid() || a.addr.IP == b.addr.IP) {
				return fmt.Errorf("the %s %s clashes with the %s %s", a.what, a.addr, b.what, b.addr)
			}
		}
	}
	return nil
}

// sameValue reports whether two raw values of a parameter mean the same,
// so that an unchanged answer leaves the administrator's spelling alone
// (ldap://h/o=x and ldap://h:389/o=x, "yes" and "on").
func sameValue(p *param.Param, a, b string) bool {
	if a == b {
		return true
	}
	if p == nil {
		return false
	}
	va, errA := p.Check(a)
	vb, errB := p.Check(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}
