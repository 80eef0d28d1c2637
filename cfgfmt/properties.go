package cfgfmt

import (
	"bytes"

	"github.com/magiconair/properties"
)

// Properties files are Java-style ("key = value" lines, "#" comments,
// backslash escapes): the mmp-setup answers files. They are read and
// written with magiconair/properties, whose only importer this package
// is. Expansion of ${...} is turned off, since a password or a banner may
// contain "${", and the Must* functions are never used: their error
// handler exits the process.

// Property is one entry of a properties file.
type Property struct {
	Key, Value string
	Comment    string // written on the line above; "" for none
}

// ParseProperties reads a properties file and returns its entries in
// file order.
func ParseProperties(data []byte) ([]Property, error) {
	l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := l.LoadBytes(data)
	if err != nil {
		return nil, err
	}
	var out []Property
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		out = append(out, Property{Key: k, Value: v})
	}
	return out, nil
}

// FormatProperties writes entries as a properties file, each comment
// behind "# " on the line above its entry.
func FormatProperties(entries []Property) []byte {
	p := properties.NewProperties()
	p.DisableExpansion = true
	for _, e := range entries {
		p.Set(e.Key, e.Value)
		if e.Comment != "" {
			p.SetComment(e.Key, e.Comment)
		}
	}
	var b bytes.Buffer
	p.WriteComment(&b, "# ", properties.UTF8)
	return b.Bytes()
}
