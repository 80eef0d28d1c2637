package cfgfmt

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// ListenAddr is one item of a port spec (docs/reference.md §3.2, §3.3): a port on one
// local address or on all of them.
type ListenAddr struct {
	// IP is the local address. The zero Addr means "every local address",
	// as when the item is written without an IP.
	IP   netip.Addr
	Port uint16 // 1–65535
}

// String writes the item as it is written in a port spec: "143",
// "10.0.0.5:143" or "[::1]:143".
func (a ListenAddr) String() string {
	p := strconv.Itoa(int(a.Port))
	switch {
	case !a.IP.IsValid():
		return p
	case a.IP.Is4():
		return a.IP.String() + ":" + p
	default:
		return "[" + a.IP.String() + "]:" + p
	}
}

// Matches reports whether a connection accepted on the local address local
// belongs to this item (docs/reference.md §3.3): an item with an IP matches that IP and
// port, an item without one matches the port on any address. An explicit
// unspecified address behaves as a listener bound to it would: 0.0.0.0
// matches any IPv4 address, [::] any address. IPv4-mapped IPv6 addresses,
// which a dual-stack listener reports for IPv4 peers, match their IPv4 form.
func (a ListenAddr) Matches(local netip.AddrPort) bool {
	if a.Port != local.Port() {
		return false
	}
	if !a.IP.IsValid() {
		return true
	}
	want, got := plainAddr(a.IP), plainAddr(local.Addr())
	if want.IsUnspecified() {
		return !want.Is4() || got.Is4()
	}
	return want == got
}

// MatchPortSpec reports whether local matches any item of spec; this is
// how an accepted connection is found to be on an SSLPorts port.
func MatchPortSpec(spec []ListenAddr, local netip.AddrPort) bool {
	for _, a := range spec {
		if a.Matches(local) {
			return true
		}
	}
	return false
}

// FormatPortSpec writes spec in the form ParsePortSpec reads:
// items joined by "|".
func FormatPortSpec(spec []ListenAddr) string {
	s := make([]string, len(spec))
	for i, a := range spec {
		s[i] = a.String()
	}
	return strings.Join(s, "|")
}

// ParsePortSpec parses a port spec, `[IP:]PORT *( "|" [IP:]PORT )`, the
// value of SSLPorts and the part of a ServiceList entry after "@" (docs/reference.md
// §3.2, §3.3). IPv4 addresses are written plainly (127.0.0.1:1993), IPv6
// addresses in brackets ([::1]:1993), since a bare IPv6 address cannot be
// told from its port. Blanks around items are ignored. A blank value gives
// no items and no error (SSLPorts left empty means no SSL ports). The same
// address and port twice is an error: it is always a slip, and in a
// ServiceList it would make the daemon fail to bind.
func ParsePortSpec(s string) ([]ListenAddr, error) {
	if trimBlanks(s) == "" {
		return nil, nil
	}
	items := strings.Split(s, "|")
	out := make([]ListenAddr, 0, len(items))
	for i, item := range items {
		item = trimBlanks(item)
		a, err := parseListenAddr(item)
		if err != nil {
			return nil, entryError(i, item, err)
		}
		for j, b := range out {
			if sameListenAddr(a, b) {
				return nil, entryError(i, item, fmt.Errorf("duplicate of entry %d", j+1))
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// sameListenAddr reports whether a and b name the same socket address.
func sameListenAddr(a, b ListenAddr) bool {
	if a.Port != b.Port || a.IP.IsValid() != b.IP.IsValid() {
		return false
	}
	return plainAddr(a.IP) == plainAddr(b.IP)
}

// parseListenAddr parses one [IP:]PORT item.
func parseListenAddr(s string) (ListenAddr, error) {
	if s == "" {
		return ListenAddr{}, errors.New("empty")
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return ListenAddr{}, errors.New(`missing "]" after IPv6 address`)
		}
		ip, err := parseAddrNoZone(s[1:end])
		if err != nil {
			return ListenAddr{}, err
		}
		if !ip.Is6() {
			return ListenAddr{}, fmt.Errorf("bad address %q: only IPv6 addresses go in brackets", s[1:end])
		}
		rest := s[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return ListenAddr{}, fmt.Errorf(`missing ":PORT" after %q`, s[:end+1])
		}
		port, err := parsePort(rest[1:])
		if err != nil {
			return ListenAddr{}, err
		}
		return ListenAddr{IP: ip, Port: port}, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		port, err := parsePort(s)
		if err != nil {
			return ListenAddr{}, err
		}
		return ListenAddr{Port: port}, nil
	}
	host := s[:i]
	if strings.IndexByte(host, ':') >= 0 {
		return ListenAddr{}, errors.New(`an IPv6 address must be written in brackets, as in [::1]:143`)
	}
	ip, err := parseAddrNoZone(host)
	if err != nil {
		return ListenAddr{}, err
	}
	port, err := parsePort(s[i+1:])
	if err != nil {
		return ListenAddr{}, err
	}
	return ListenAddr{IP: ip, Port: port}, nil
}

// ConnLimit is one ConnLimits entry (docs/reference.md §3.4): clients inside Net may
// each hold at most Max simultaneous connections. Per docs/reference.md §7.36 the
// limit applies to each single client address; the network only chooses
// which limit.
type ConnLimit struct {
	Net netip.Prefix // host bits cleared; IPv4-mapped networks stored as IPv4
	Max int          // 0 refuses every connection from the network
}

// String writes the entry as ParseConnLimits reads it: IPv4 with a dotted
// mask (192.168.1.0|255.255.255.0:100), IPv6 with a prefix length
// (2001:db8::|32:100).
func (c ConnLimit) String() string {
	return c.Net.Addr().String() + "|" + maskString(c.Net) + ":" + strconv.Itoa(c.Max)
}

// maskString writes the mask of p as a dotted IPv4 mask or, for IPv6, as
// the prefix length.
func maskString(p netip.Prefix) string {
	if !p.Addr().Is4() {
		return strconv.Itoa(p.Bits())
	}
	var v uint32
	if p.Bits() > 0 {
		v = ^uint32(0) << (32 - p.Bits())
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// FormatConnLimits writes limits in the inline form ParseConnLimits reads.
func FormatConnLimits(limits []ConnLimit) string {
	s := make([]string, len(limits))
	for i, c := range limits {
		s[i] = c.String()
	}
	return strings.Join(s, ",")
}

// ParseConnLimits parses the inline form of ConnLimits (docs/reference.md §3.4):
// entries `IP|MASK:NUM` separated by commas. The mask is dotted and must be
// contiguous; as extensions (docs/reference.md §7.37) it may also be a prefix
// length, which is the only form an IPv6 entry takes (2001:db8::|32:50).
// Blanks are accepted as separators too, as in every other list. A blank
// value gives no entries and no error. Whether the value names a file
// instead is for IsFileRef to say.
func ParseConnLimits(s string) ([]ConnLimit, error) {
	items := SplitList(s)
	var out []ConnLimit
	for i, item := range items {
		c, err := parseConnLimit(item)
		if err != nil {
			return nil, entryError(i, item, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseConnLimitLines parses a ConnLimits file: one entry per line, "#"
// comments and blank lines ignored. It reads to the end and returns every
// entry that parsed together with one *Error per bad line (Line set, File
// left for the caller to fill in).
func ParseConnLimitLines(r io.Reader) ([]ConnLimit, []error) {
	var out []ConnLimit
	errs := readListLines(r, func(line string) error {
		return parseLineItems(line, func(item string) error {
			c, err := parseConnLimit(item)
			if err == nil {
				out = append(out, c)
			}
			return err
		})
	})
	return out, errs
}

// parseLineItems hands each item of one file line to parse. A line holds
// one entry by the reference, but a comma list on a line is accepted as well;
// only then are entries numbered in the error.
func parseLineItems(line string, parse func(string) error) error {
	items := SplitList(line)
	for i, item := range items {
		if err := parse(item); err != nil {
			if len(items) == 1 {
				return fmt.Errorf("%q: %w", item, err)
			}
			return entryError(i, item, err)
		}
	}
	return nil
}

// parseConnLimit parses one IP|MASK:NUM entry.
func parseConnLimit(s string) (ConnLimit, error) {
	bar := strings.IndexByte(s, '|')
	if bar < 0 {
		return ConnLimit{}, errors.New(`want IP|MASK:NUM`)
	}
	colon := strings.LastIndexByte(s[bar+1:], ':')
	if colon < 0 {
		return ConnLimit{}, errors.New(`missing ":NUM" after the mask`)
	}
	colon += bar + 1
	p, _, err := parseNet(s[:bar], s[bar+1:colon])
	if err != nil {
		return ConnLimit{}, err
	}
	num := s[colon+1:]
	if !allDigits(num) {
		return ConnLimit{}, fmt.Errorf("bad connection limit %q", num)
	}
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return ConnLimit{}, fmt.Errorf("bad connection limit %q: too large", num)
	}
	return ConnLimit{Net: p, Max: int(n)}, nil
}

// parseNet parses the address and mask halves of a network entry. It
// returns the network with host bits cleared (see normPrefix) and whether
// the address had host bits set, which the filter parser warns about.
func parseNet(addr, mask string) (p netip.Prefix, hostBits bool, err error) {
	if addr == "" {
		return netip.Prefix{}, false, errors.New("missing address")
	}
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	a, err := parseAddrNoZone(addr)
	if err != nil {
		return netip.Prefix{}, false, err
	}
	if mask == "" {
		return netip.Prefix{}, false, errors.New("missing mask")
	}
	bits, err := parseMask(a, mask)
	if err != nil {
		return netip.Prefix{}, false, err
	}
	raw := netip.PrefixFrom(a, bits)
	return normPrefix(raw), raw.Masked().Addr() != a, nil
}

// LimitFor returns the limit for client: the Max of the first entry whose
// network contains it. Entries are taken in the order written, which is
// why the reference asks for the most specific first. ok is false when no entry
// matches, so the caller applies no limit.
func LimitFor(limits []ConnLimit, client netip.Addr) (max int, ok bool) {
	c := plainAddr(client)
	for _, l := range limits {
		if l.Net.Contains(c) {
			return l.Max, true
		}
	}
	return 0, false
}

// IsFileRef reports whether a ConnLimits value names a file rather than
// listing entries: every entry has a "|", a file name has none (docs/reference.md
// §3.4). A blank value is neither. Whether the file exists is the caller's
// question.
func IsFileRef(value string) bool {
	v := trimBlanks(value)
	return v != "" && !strings.Contains(v, "|")
}

// ParseAddrList parses a BGExcluded list (docs/reference.md §3.4): networks written
// `IP|MASK`, `IP/MASK` (dotted mask), `IP/len` or a bare IP meaning that
// one host, separated by commas, blanks or newlines. A prefix length after
// "|" is accepted too, as in ConnLimits. A blank value gives no entries.
func ParseAddrList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, item := range SplitList(s) {
		p, err := parseAddrEntry(item)
		if err != nil {
			return nil, entryError(i, item, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseAddrListLines parses a BGExcluded file (such as bgexcl.cfg): the
// list syntax of ParseAddrList over several lines, with "#" comments. It
// returns every entry that parsed and one *Error per bad line.
func ParseAddrListLines(r io.Reader) ([]netip.Prefix, []error) {
	var out []netip.Prefix
	errs := readListLines(r, func(line string) error {
		return parseLineItems(line, func(item string) error {
			p, err := parseAddrEntry(item)
			if err == nil {
				out = append(out, p)
			}
			return err
		})
	})
	return out, errs
}

// parseAddrEntry parses one BGExcluded entry.
func parseAddrEntry(s string) (netip.Prefix, error) {
	if i := strings.IndexAny(s, "|/"); i >= 0 {
		p, _, err := parseNet(s[:i], s[i+1:])
		return p, err
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := parseAddrNoZone(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return normPrefix(netip.PrefixFrom(a, a.BitLen())), nil
}

// IsAddrListFileRef reports whether a BGExcluded value names a file rather
// than listing networks (docs/reference.md §3.4 allows either). It is a file when it is
// a single token that is not an address entry and does not look like a
// mistyped one: it starts with "/" or holds a character that no address
// entry has (a letter past "f", "_", "-", ...). So
// /opt/SUNWmsgsr/config/bgexcl.cfg and bgexcl.cfg are files, while
// 10.0.0.300 stays an address and ParseAddrList reports it as bad.
func IsAddrListFileRef(value string) bool {
	toks := SplitList(value)
	if len(toks) != 1 {
		return false
	}
	t := toks[0]
	if strings.Contains(t, "|") {
		return false
	}
	if _, err := parseAddrEntry(t); err == nil {
		return false
	}
	if t[0] == '/' {
		return true
	}
	for i := 0; i < len(t); i++ {
		if !isAddrEntryChar(t[i]) {
			return true
		}
	}
	return false
}

// isAddrEntryChar reports whether c can occur in an address entry.
func isAddrEntryChar(c byte) bool {
	switch {
	case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		return true
	}
	return strings.IndexByte(".:/[]%", c) >= 0
}
