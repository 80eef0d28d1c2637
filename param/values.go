package param

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openmmp/mmp/cfgfmt"
)

// The value grammars of the table. Each returns a plain error saying what
// is wrong with the value; the caller adds file, line and name.

// parseString accepts any text on one line. Control characters are
// refused: a carriage return in a Banner or ServerDownAlert would let a
// configuration value forge protocol lines.
func parseString(s string) (string, error) {
	for _, r := range s {
		if r < ' ' && r != '\t' || r == 0x7f {
			return "", fmt.Errorf("control character %U is not allowed", r)
		}
	}
	return s, nil
}

// parseName accepts a Unix user or group name, a store administrator id or
// an MTA channel name: one word.
func parseName(s string) (string, error) {
	if s == "" || strings.ContainsAny(s, " \t:/") {
		return "", fmt.Errorf("%q is not a name (one word, no blanks, colons or slashes)", s)
	}
	return parseString(s)
}

// parseDomain accepts a DNS domain name.
func parseDomain(s string) (string, error) {
	for _, label := range strings.Split(s, ".") {
		if label == "" || strings.ContainsAny(label, " \t@,;:/\\\"()<>[]") {
			return "", fmt.Errorf("%q is not a domain name", s)
		}
	}
	return parseString(s)
}

// parsePath accepts a file or directory name.
func parsePath(s string) (string, error) { return parseString(s) }

// parseBool accepts the spellings of docs/reference.md §2.0, and y/n, which the Netscape
// installer wrote (LDAPAuth, SSLEnable "Default = n").
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y":
		return true, nil
	case "n":
		return false, nil
	}
	return cfgfmt.ParseBool(s)
}

// intRange returns a parser for decimal integers in [lo, hi].
func intRange(lo, hi int) func(string) (int, error) {
	return func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", s)
		}
		if n < lo || n > hi {
			return 0, fmt.Errorf("%d is out of range %d to %d", n, lo, hi)
		}
		return n, nil
	}
}

// secsRange returns a parser for a number of seconds in [lo, hi].
func secsRange(lo, hi int) func(string) (time.Duration, error) {
	ints := intRange(lo, hi)
	return func(s string) (time.Duration, error) {
		n, err := ints(s)
		return time.Duration(n) * time.Second, err
	}
}

// msRange returns a parser for a number of milliseconds in [lo, hi].
func msRange(lo, hi int) func(string) (time.Duration, error) {
	ints := intRange(lo, hi)
	return func(s string) (time.Duration, error) {
		n, err := ints(s)
		return time.Duration(n) * time.Millisecond, err
	}
}

// parsePort accepts 1 to 65535.
func parsePort(s string) (int, error) { return intRange(1, 65535)(s) }

// parseOptionalPort also accepts 0, which means "not set" (SSLBacksidePort).
func parseOptionalPort(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	return intRange(0, 65535)(s)
}

// parseChar accepts exactly one character (CanonicalVirtualDomainDelim).
func parseChar(s string) (string, error) {
	if len([]rune(s)) != 1 {
		return "", fmt.Errorf("%q must be exactly one character", s)
	}
	if strings.ContainsAny(s, " \t") {
		return "", errors.New("a blank cannot be a delimiter")
	}
	return s, nil
}

// parseDelims accepts a non-empty string of delimiter characters with no
// separators between them (VirtualDomainDelim).
func parseDelims(s string) (string, error) {
	if s == "" {
		return "", errors.New("needs at least one delimiter character")
	}
	if strings.ContainsAny(s, " \t,") {
		return "", fmt.Errorf("%q: write the delimiter characters next to each other, without blanks or commas", s)
	}
	return s, nil
}

// parseWords splits on white space only (Capability, EhloKeywords).
func parseWords(s string) ([]string, error) { return strings.Fields(s), nil }

// parseNicknames splits SSLCertNicknames on blanks; double quotes keep a
// nickname with blanks in one piece ("Siroe.com Server-Cert"), since the
// value is a list of certificates (docs/reference.md §7.31).
func parseNicknames(s string) ([]string, error) {
	var out []string
	for rest := trimSpace(s); rest != ""; rest = trimSpace(rest) {
		if rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quoted nickname")
			}
			out, rest = append(out, rest[1:end+1]), rest[end+2:]
			if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				return nil, errors.New("blank expected after a quoted nickname")
			}
			continue
		}
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			i = len(rest)
		}
		if strings.Contains(rest[:i], `"`) {
			return nil, fmt.Errorf("%q: quote a whole nickname", rest[:i])
		}
		out, rest = append(out, rest[:i]), rest[i:]
	}
	return out, nil
}

func trimSpace(s string) string { return strings.Trim(s, " \t") }

// parseAttrList is a list of LDAP attribute names. Quotes around single
// names are allowed, as in the third-party auth SDK's README.
func parseAttrList(s string) ([]string, error) {
	var out []string
	for _, a := range cfgfmt.SplitList(strings.ReplaceAll(s, `"`, " ")) {
		if err := checkAttrName(a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func parseAttr(s string) (string, error) { return s, checkAttrName(s) }

// checkAttrName applies the descr grammar of RFC 4512 (or a numeric OID).
func checkAttrName(a string) error {
	if a == "" {
		return errors.New("empty attribute name")
	}
	for i, r := range a {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			i > 0 && (r >= '0' && r <= '9' || r == '-' || r == ';') ||
			r >= '0' && r <= '9' || r == '.' && i > 0
		if !ok {
			return fmt.Errorf("%q is not an LDAP attribute name", a)
		}
	}
	return nil
}

// parseDN does a light syntax check of a distinguished name: a
// comma-separated list of attr=value. The directory package parses DNs
// properly; this catches the typical typing mistakes early.
func parseDN(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	for _, rdn := range splitDN(s) {
		attr, _, ok := strings.Cut(rdn, "=")
		attr = strings.TrimSpace(attr)
		if !ok || attr == "" {
			return "", fmt.Errorf("%q is not a DN: %q lacks attribute=value", s, strings.TrimSpace(rdn))
		}
		if err := checkAttrName(attr); err != nil {
			return "", fmt.Errorf("%q is not a DN: %v", s, err)
		}
	}
	return s, nil
}

// splitDN splits at commas that are not escaped with a backslash.
func splitDN(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ',', ';':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// parseHostPort accepts host:port (AuthenticationServer).
func parseHostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", fmt.Errorf("%q is not host:port", s)
	}
	if _, err := parsePort(port); err != nil {
		return "", fmt.Errorf("%q: port %v", s, err)
	}
	return s, nil
}

// parseLDAPHost accepts the Netscape LDAPHost: host or host:port.
func parseLDAPHost(s string) (string, error) {
	if _, err := cfgfmt.FromN4(s, "o=x"); err != nil {
		return "", err
	}
	return s, nil
}

// parseRelays is a blank-separated list of host[:port] (SmtpRelays); the
// port defaults to 25.
func parseRelays(s string) ([]string, error) {
	var out []string
	for _, r := range strings.Fields(s) {
		host, port := r, "25"
		if h, p, err := net.SplitHostPort(r); err == nil {
			host, port = h, p
		} else if strings.Count(r, ":") == 1 {
			return nil, fmt.Errorf("relay %q: %v", r, err)
		}
		if host == "" {
			return nil, fmt.Errorf("relay %q has no host", r)
		}
		if _, err := parsePort(port); err != nil {
			return nil, fmt.Errorf("relay %q: port %v", r, err)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// parseCiphers accepts "all" or a colon-separated list of cipher names.
// Whether a name maps to a modern suite is decided by the TLS setup.
func parseCiphers(s string) ([]string, error) {
	if strings.EqualFold(strings.TrimSpace(s), "all") || s == "" {
		return []string{"all"}, nil
	}
	var out []string
	for _, c := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ' ' || r == ',' }) {
		for _, r := range c {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				return nil, fmt.Errorf("%q is not a cipher name", c)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// groupNames are the spellings of the TLS key exchange groups
// (SSLKeyExchangeGroups), lower-cased: the IANA and Go names and
// OpenSSL's, each mapped to the one package tlsconf takes.
var groupNames = map[string]string{
	"x25519mlkem768": "X25519MLKEM768", "secp256r1mlkem768": "SecP256r1MLKEM768", "secp384r1mlkem1024": "SecP384r1MLKEM1024",
	"x25519": "X25519",
	"p256":   "P256", "p-256": "P256", "curvep256": "P256", "secp256r1": "P256", "prime256v1": "P256",
	"p384": "P384", "p-384": "P384", "curvep384": "P384", "secp384r1": "P384",
	"p521": "P521", "p-521": "P521", "curvep521": "P521", "secp521r1": "P521",
}

// parseGroups reads SSLKeyExchangeGroups: "default", or group names
// separated by blanks, colons (OpenSSL's -groups) or commas.
func parseGroups(s string) ([]string, error) {
	if strings.EqualFold(strings.TrimSpace(s), "default") {
		return []string{"default"}, nil
	}
	var out []string
	for _, g := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ' ' || r == '\t' || r == ',' }) {
		name, ok := groupNames[strings.ToLower(g)]
		if !ok {
			return nil, fmt.Errorf("%q is not a key exchange group Go offers; use X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, P256, P384, P521 or default", g)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("names no key exchange group; use default for Go's")
	}
	return out, nil
}

// oneOf returns a parser for a fixed set of words, matched ignoring case
// and returned in the spelling of the set.
func oneOf(words ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		for _, w := range words {
			if strings.EqualFold(s, w) {
				return w, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", s, strings.Join(words, ", "))
	}
}

// adminPolicy accepts simple. group named the Messaging Server's store
// administrator groups, which a proxy cannot see; accepting it and acting
// as simple would grant less than the administrator expects, silently.
func adminPolicy(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "simple":
		return "simple", nil
	case "group":
		return "", fmt.Errorf("group (the store's administrator groups) is not supported: use simple, where StoreAdmin alone may log in as another user")
	}
	return "", fmt.Errorf("%q is not simple", s)
}

// ConnLimitList is the value of ConnLimits: either inline entries or the name
// of a file holding them (docs/reference.md §3.4). The configuration loader reads the
// file and fills Limits.
type ConnLimitList struct {
	File   string
	Limits []cfgfmt.ConnLimit
}

func parseConnLimits(s string) (ConnLimitList, error) {
	if s == "" {
		return ConnLimitList{}, nil
	}
	if cfgfmt.IsFileRef(s) {
		return ConnLimitList{File: s}, nil
	}
	l, err := cfgfmt.ParseConnLimits(s)
	return ConnLimitList{Limits: l}, err
}

// AddrList is the value of BGExcluded: inline networks or a file of them.
type AddrList struct {
	File string
	Nets []netip.Prefix
}

func parseAddrList(s string) (AddrList, error) {
	if s == "" {
		return AddrList{}, nil
	}
	if cfgfmt.IsAddrListFileRef(s) {
		return AddrList{File: s}, nil
	}
	n, err := cfgfmt.ParseAddrList(s)
	return AddrList{Nets: n}, err
}

// Filter is a parsed TCPAccess value with the warnings its parser gave
// (rules without + or -, netgroups); the check command reports them.
type Filter struct {
	*cfgfmt.Filter
	Warnings []string
}

func parseFilter(s string) (Filter, error) {
	if s == "" {
		return Filter{Filter: &cfgfmt.Filter{}}, nil
	}
	f, warn, err := cfgfmt.ParseFilter(s)
	return Filter{f, warn}, err
}

func parseLdapURL(s string) (cfgfmt.LDAPURL, error) { return cfgfmt.ParseLdapURL(s) }

// parsePrefixList reads addresses and networks written inline (the syntax
// of BGExcluded, without its file form).
func parsePrefixList(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	return cfgfmt.ParseAddrList(s)
}

func parsePortSpec(s string) ([]cfgfmt.ListenAddr, error) {
	if s == "" {
		return nil, nil
	}
	return cfgfmt.ParsePortSpec(s)
}

func parseServiceList(s string) ([]cfgfmt.ServiceEntry, error) {
	entries, err := cfgfmt.ParseServiceList(s)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Protocol() == "" {
			return nil, fmt.Errorf("%q is not a known module (ImapProxyAService, PopProxyAService or SmtpProxyAService; Sun 7.x: imapproxy, popproxy or submitproxy)", e.DLL)
		}
	}
	return entries, nil
}

// format returns a parser for a printf-style format with the given escapes.
func format(escapes string) func(string) (cfgfmt.Format, error) {
	return func(s string) (cfgfmt.Format, error) { return cfgfmt.ParseFormat(s, escapes) }
}

func parseRedisURL(s string) (cfgfmt.RedisURL, error) { return cfgfmt.ParseRedisURL(s) }
