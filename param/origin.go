package param

import "fmt"

// OriginKind says which layer a value came from. The layers are applied in
// this order, later ones winning (docs/reference.md §5.1): the default, a file, the
// Netscape environment, the command line.
type OriginKind int

const (
	FromDefault OriginKind = iota
	FromFile               // a *.cfg, vdmap or ImapMMP.config line
	FromEnv                // a Netscape environment variable
	FromFlag               // a command-line option
	FromDerived            // computed from other parameters (LDAPHost+BaseDN → LdapUrl)
)

// Origin says where a value came from, for `-h` listings and messages.
type Origin struct {
	Kind OriginKind
	File string // FromFile: the file name
	Line int    // FromFile: 1-based line
	Name string // the spelling used: "-p", "ListenPort", "--Timeout"; FromDerived: what it was made from
}

func (o Origin) String() string {
	switch o.Kind {
	case FromFile:
		if o.Line > 0 {
			return fmt.Sprintf("%s:%d", o.File, o.Line)
		}
		return o.File
	case FromEnv:
		return "environment " + o.Name
	case FromFlag:
		return "command line " + o.Name
	case FromDerived:
		return "from " + o.Name
	}
	return "default"
}

// A Setting is a raw value given to a parameter somewhere.
type Setting struct {
	Param  *Param
	Raw    string
	Origin Origin
}
