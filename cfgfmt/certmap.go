package cfgfmt

import (
	"errors"
	"fmt"
	"strings"
)

// Certmap is a parsed certmap.conf (docs/reference.md §3.7): the maps in file order,
// the default map first.
type Certmap struct {
	Maps []*Map
}

// Comp is one entry of DNComps or FilterComps: the subject-DN attribute
// From, used as the attribute To (the MMP's FROMATTR=TOATTR form; To
// equals From for a plain entry). Both are as written.
type Comp struct {
	From, To string
}

// Comps is a DNComps or FilterComps property: Set is false when the
// property is absent (commented out), List empty when it is present with
// no value.
type Comps struct {
	Set  bool
	List []Comp
}

// Map is one "certmap NAME ISSUER-DN" block.
type Map struct {
	Name         string // the block name, as written
	Issuer       string // the issuer DN, verbatim ("default" for the default map)
	Line         int    // line of the header
	DNComps      Comps
	FilterComps  Comps
	VerifyCert   bool
	CmapLdapAttr string // "" when not set
}

// IsDefault reports whether m is the "certmap default default" map.
func (m *Map) IsDefault() bool { return strings.EqualFold(m.Name, "default") }

// ParseCertmap parses certmap.conf. It returns the maps it could read
// and every problem found: a first map that is not "certmap default
// default", properties of undeclared maps, unknown properties, the
// plug-in properties library and InitFn (not supported by the MMP), a bad
// verifycert value, a malformed component list, no map at all; each as an
// *Error with file, line and property. The Certmap is nil only when no map
// could be read.
func ParseCertmap(name string, data []byte) (*Certmap, []error) {
	f, errs := Parse(name, data, "certmap")
	cm := &Certmap{}
	byName := map[string]*Map{}
	bad := func(num int, prop, format string, args ...any) {
		errs = append(errs, &Error{File: name, Line: num, Name: prop, Err: fmt.Errorf(format, args...)})
	}
	for _, ln := range f.Lines {
		switch ln.Kind {
		case Header:
			if ln.Keyword != "certmap" {
				continue
			}
			key := strings.ToLower(ln.Label)
			if len(cm.Maps) == 0 && (key != "default" || !strings.EqualFold(ln.Arg, "default")) {
				bad(ln.Num, "", "the first map must be \"certmap default default\"")
			}
			if byName[key] != nil {
				continue // Parse reported ErrDuplicateBlock
			}
			m := &Map{Name: ln.Label, Issuer: ln.Arg, Line: ln.Num}
			byName[key] = m
			cm.Maps = append(cm.Maps, m)
		case Setting:
			m := byName[strings.ToLower(ln.Prefix)]
			if m == nil {
				continue // Parse reported ErrUndeclaredBlock
			}
			switch strings.ToLower(ln.Name) {
			case "dncomps", "filtercomps":
				list, err := parseComps(ln.Value)
				if err != nil {
					bad(ln.Num, ln.Name, "%v", err)
					continue
				}
				c := Comps{Set: true, List: list}
				if strings.EqualFold(ln.Name, "dncomps") {
					m.DNComps = c
				} else {
					m.FilterComps = c
				}
			case "verifycert":
				b, err := ParseBool(ln.Value)
				if err != nil {
					bad(ln.Num, ln.Name, "%v", err)
					continue
				}
				m.VerifyCert = b
			case "cmapldapattr":
				if err := checkAttrName(ln.Value); err != nil {
					bad(ln.Num, ln.Name, "%v", err)
					continue
				}
				m.CmapLdapAttr = ln.Value
			case "library", "initfn":
				bad(ln.Num, ln.Name, "certmap plug-ins are not supported by the MMP")
			default:
				bad(ln.Num, ln.Name, "unknown certmap property (known: DNComps, FilterComps, verifycert, CmapLdapAttr)")
			}
		}
	}
	if len(cm.Maps) == 0 {
		errs = append(errs, &Error{File: name, Err: errors.New("no certmap entries")})
		return nil, errs
	}
	return cm, errs
}

// parseComps reads "a, b c, from=to": entries separated by commas and/or
// white space.
func parseComps(v string) ([]Comp, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	var out []Comp
	for _, f := range fields {
		from, to, found := strings.Cut(f, "=")
		if !found {
			to = from
		}
		if err := checkAttrName(from); err != nil {
			return nil, fmt.Errorf("%q: %v", f, err)
		}
		if err := checkAttrName(to); err != nil {
			return nil, fmt.Errorf("%q: %v", f, err)
		}
		out = append(out, Comp{From: from, To: to})
	}
	return out, nil
}

// checkAttrName accepts an LDAP attribute description: a letter followed
// by letters, digits and hyphens, or a numeric OID; options (";binary")
// are allowed.
func checkAttrName(a string) error {
	if a == "" {
		return fmt.Errorf("empty attribute name")
	}
	for i, r := range a {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '-' || r == '.' || r == ';')
		if !ok {
			return fmt.Errorf("%q is not an attribute name", a)
		}
	}
	return nil
}

// MapFor returns the map for a certificate issued by issuerDN: the map
// whose issuer DN is exactly issuerDN (white space significant, docs/reference.md
// §3.7), else the default map.
func (c *Certmap) MapFor(issuerDN string) *Map {
	if c == nil || len(c.Maps) == 0 {
		return nil
	}
	for _, m := range c.Maps[1:] {
		if m.Issuer == issuerDN {
			return m
		}
	}
	return c.Maps[0]
}
