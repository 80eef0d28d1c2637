// Package config loads a Messaging Multiplexor instance: the Sun 6.x
// configuration directory (AService.cfg, the per-service *AService.cfg
// files, vdmap, and the files they name) or the Netscape 4.x front-end
// settings (command line, environment, ImapMMP.config), merges the layers
// in their documented order, validates every value against the parameter
// table, and hands out an immutable, typed result.
//
// Problems are collected, not returned one at a time: a check run reports
// every mistake of an instance at once, each as "file:line: Parameter:
// message" (docs/reference.md §7, issue "configuration foundation").
//
// Typical usage:
//
//	inst, problems := config.Load(dir, config.Options{})
//	if problems.Fatal() { ... }
//	for _, svc := range inst.Services {
//	    url := config.Get(svc.Values, param.LdapUrl)
//	}
package config

import (
	"fmt"

	"github.com/openmmp/mmp/param"
)

// Values holds the effective value of every parameter in one context: a
// service, a virtual domain of a service, or the daemon. It is immutable
// once loading is done; refresh builds new Values.
type Values struct {
	ctx  param.Where
	vals []value
}

type value struct {
	raw    string
	parsed any
	origin param.Origin
}

// newValues starts from the table's defaults for a context. Defaults are
// checked by the param tests, so a default that fails to parse is a
// programming error.
func newValues(ctx param.Where) *Values {
	v := &Values{ctx: ctx, vals: make([]value, len(param.All()))}
	for _, p := range param.All() {
		raw := p.DefaultFor(ctx)
		parsed, err := p.Check(raw)
		if err != nil {
			panic(fmt.Sprintf("config: default of %s (%q) does not parse: %v", p.Name, raw, err))
		}
		v.vals[p.Index()] = value{raw: raw, parsed: parsed}
	}
	return v
}

// Get returns a parameter's effective value with its Go type.
func Get[T any](v *Values, p *param.Typed[T]) T { return v.vals[p.Index()].parsed.(T) }

// Raw returns the value as it was written.
func (v *Values) Raw(p *param.Param) string { return v.vals[p.Index()].raw }

// Origin says where the value came from.
func (v *Values) Origin(p *param.Param) param.Origin { return v.vals[p.Index()].origin }

// IsSet reports whether anything but the default gave the value.
func (v *Values) IsSet(p *param.Param) bool {
	return v.vals[p.Index()].origin.Kind != param.FromDefault
}

// Context is the context the values were resolved for.
func (v *Values) Context() param.Where { return v.ctx }

// set parses and stores one value. It returns the parser's error and
// leaves the previous value in place when the raw value is bad.
func (v *Values) set(s param.Setting) error {
	parsed, err := s.Param.Check(s.Raw)
	if err != nil {
		return err
	}
	v.vals[s.Param.Index()] = value{raw: s.Raw, parsed: parsed, origin: s.Origin}
	return nil
}

// clone copies the values so that an overlay (a vdmap domain) can change
// some of them.
func (v *Values) clone() *Values {
	c := &Values{ctx: v.ctx, vals: make([]value, len(v.vals))}
	copy(c.vals, v.vals)
	return c
}

// Display returns the value for people: the raw text, "(unset)" for an
// empty value, and a mask for passwords.
func (v *Values) Display(p *param.Param) string {
	raw := v.Raw(p)
	switch {
	case raw == "":
		return "(unset)"
	case p.Secret:
		return "********"
	}
	return raw
}
