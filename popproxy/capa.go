package popproxy

import (
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// capaTags are the CAPA tags the MMP knows (RFC 2449 §6, RFC 2595 STLS,
// RFC 6856 UTF8 and LANG). PopCapability is a flat list of words, so a
// word is taken as a new capability line when it is one of these or when
// the line before takes no arguments, and as an argument otherwise:
// "EXPIRE NEVER LOGIN-DELAY 900 TOP" gives three lines.
var capaTags = map[string]bool{
	"TOP": true, "USER": true, "SASL": true, "RESP-CODES": true, "LOGIN-DELAY": true,
	"PIPELINING": true, "EXPIRE": true, "UIDL": true, "IMPLEMENTATION": true,
	"AUTH-RESP-CODE": true, "STLS": true, "UTF8": true, "LANG": true,
}

// capaWithArgs are the tags whose line carries arguments.
var capaWithArgs = map[string]bool{"SASL": true, "LOGIN-DELAY": true, "EXPIRE": true, "IMPLEMENTATION": true}

// configuredCapa splits PopCapability into CAPA lines, each as its words.
func configuredCapa(v *config.Values) [][]string {
	var lines [][]string
	for _, w := range config.Get(v, param.PopCapability) {
		u := strings.ToUpper(w)
		if n := len(lines); n > 0 && !capaTags[u] && capaWithArgs[strings.ToUpper(lines[n-1][0])] {
			lines[n-1] = append(lines[n-1], w)
			continue
		}
		lines = append(lines, []string{w})
	}
	return lines
}

// capabilities is the CAPA list before login (docs/reference.md §4.3.2): PopCapability
// without what depends on the connection, which is computed here so that
// the list is always true for this connection. USER stays only while
// clear-text passwords are allowed; SASL lists the mechanisms the MMP
// implements and offers on this connection (never the configured ones:
// the password mechanisms while clear-text passwords are allowed,
// EXTERNAL with a client certificate that can log in); STLS is offered while
// the connection is not yet encrypted and TLS is configured.
func (c *conn) capabilities() []string {
	plain := !c.s.PlainDisabled()
	var out []string
	for _, l := range configuredCapa(c.v) {
		switch strings.ToUpper(l[0]) {
		case "SASL", "STLS":
			continue
		case "USER":
			if !plain {
				continue
			}
		}
		out = append(out, strings.Join(l, " "))
	}
	if c.s.StartTLSOffered() {
		out = append(out, "STLS")
	}
	if mechs := c.s.Mechanisms(); len(mechs) > 0 {
		out = append(out, "SASL "+strings.Join(mechs, " "))
	}
	return out
}

// handleCapa answers CAPA (RFC 2449 §5).
func (c *conn) handleCapa(args []string) error {
	if len(args) != 0 {
		return badArgs("CAPA takes no arguments")
	}
	c.writeList("Capability list follows", c.capabilities())
	return nil
}

// writeList writes "+OK text", the lines, and the terminating dot. The
// lines never start with a dot.
func (c *conn) writeList(text string, lines []string) {
	c.ok(text)
	for _, l := range lines {
		c.line(l)
	}
	c.line(".")
}
