package cfgfmt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// ParseBool parses a boolean parameter value (docs/reference.md §2.0). The eras spelled
// booleans differently — SSLEnable "True"/"Yes"/"1", SpoofEmptyMailbox
// "on"/"off", 7.x unified configuration 1/0 — so every pair is accepted,
// case-insensitively, with surrounding white space ignored.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(trimBlanks(s)) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("bad boolean %q: want yes/no, true/false, on/off or 1/0", s)
}

// SplitList splits a list value on commas and/or white space and drops
// empty items; a list without items gives nil. N4 wrote lists such as
// MailHostAttrs with commas and S6 with blanks (docs/reference.md §7.3); accepting
// both lets one parser serve both eras.
func SplitList(s string) []string {
	items := strings.FieldsFunc(s, isListSep)
	if len(items) == 0 {
		return nil
	}
	return items
}

// isListSep reports whether r separates the items of a list value.
func isListSep(r rune) bool {
	return r == ',' || isBlank(r)
}

// isBlank reports whether r is white space in a value. Only ASCII white
// space counts: the legacy files are ASCII and a non-breaking space inside
// a value is more likely a typo that should show up in an error.
func isBlank(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

// trimBlanks removes the blanks (as isBlank defines them) around s.
func trimBlanks(s string) string {
	return strings.TrimFunc(s, isBlank)
}

// parsePort parses a decimal TCP port 1–65535. Only digits are accepted:
// strconv would also take a sign.
func parsePort(s string) (uint16, error) {
	if !allDigits(s) {
		return 0, fmt.Errorf("bad port %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q: want 1-65535", s)
	}
	return uint16(n), nil
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseAddrNoZone parses an IP address and refuses IPv6 zones
// ("fe80::1%eth0"): a zone names an interface of one machine and cannot be
// matched against the addresses the proxy sees.
func parseAddrNoZone(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad address %q", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("bad address %q: IPv6 zones are not supported", s)
	}
	return a, nil
}

// plainAddr strips what does not take part in matching: the IPv4-mapped
// IPv6 form that a dual-stack listener reports for IPv4 peers, and the zone.
func plainAddr(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// parseMask parses the mask half of an "IP|MASK" or "IP/MASK" pair for the
// address a: a dotted IPv4 mask, which must be contiguous because only a
// contiguous mask is a network, or a decimal prefix length (the only form
// that suits IPv6, docs/reference.md §7.37). It returns the prefix length.
func parseMask(a netip.Addr, mask string) (int, error) {
	if allDigits(mask) {
		n, err := strconv.Atoi(mask)
		if err != nil || n > a.BitLen() {
			return 0, fmt.Errorf("bad prefix length %q: want 0-%d", mask, a.BitLen())
		}
		return n, nil
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("bad mask %q", mask)
	}
	if !a.Is4() {
		return 0, fmt.Errorf("bad mask %q: an IPv6 address takes a prefix length", mask)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&0x80000000 != 0 {
		ones++
		v <<= 1
	}
	if v != 0 {
		return 0, fmt.Errorf("bad mask %q: not contiguous", mask)
	}
	return ones, nil
}

// normPrefix masks off the host bits and turns an IPv4-mapped IPv6 network
// (::ffff:a.b.c.d/96+n) into the IPv4 network a.b.c.d/n, so that it matches
// the unmapped client addresses the matchers compare against.
func normPrefix(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// maxLineLen bounds one line of a list file. These files are written by an
// administrator, but a binary file named by mistake should give an error,
// not an unbounded read.
const maxLineLen = 64 * 1024

// readListLines reads a list file, strips "#" comments (which may also end
// an entry line: no entry syntax uses "#") and hands each non-blank line to
// parse with its 1-based number. Errors are returned as *Error with Line
// set and File empty; the caller knows the file name.
func readListLines(r io.Reader, parse func(line string) error) []error {
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if trimBlanks(line) == "" {
			continue
		}
		if err := parse(line); err != nil {
			errs = append(errs, &Error{Line: n, Err: err})
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line longer than %d bytes", maxLineLen)
		}
		errs = append(errs, &Error{Line: n + 1, Err: err})
	}
	return errs
}

// entryError numbers a problem with one item of a list value, so that the
// administrator can find it in a long line: entry 2 "x": bad mask "y".
func entryError(i int, item string, err error) error {
	return fmt.Errorf("entry %d %q: %w", i+1, item, err)
}
