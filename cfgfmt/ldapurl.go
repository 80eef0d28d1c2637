package cfgfmt

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// LDAPURL is the value of LdapUrl (docs/reference.md §2.2): the directory servers,
// tried in order for fail-over, and the base DN.
type LDAPURL struct {
	Scheme string   // "ldap" or "ldaps"
	Hosts  []string // "host:port" ("[::1]:389" for IPv6); the port defaults to 389 or 636
	BaseDN string   // percent-decoded; never empty
}

// String writes the canonical single-URL form,
// ldap://h1:389 h2:389/o=internet, with the ports spelled out and the
// characters that would not survive ParseLdapURL (blanks, "%", "?",
// control and non-ASCII bytes) percent-encoded in the DN. A value with a
// blank has to be quoted in a .cfg file; that is the file writer's job.
func (u LDAPURL) String() string {
	return u.Scheme + "://" + strings.Join(u.Hosts, " ") + "/" + escapeDN(u.BaseDN)
}

// escapeDN percent-encodes the bytes of dn that ParseLdapURL would take as
// syntax or that cannot be written in a config value.
func escapeDN(dn string) string {
	var b strings.Builder
	for i := 0; i < len(dn); i++ {
		c := dn[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '?' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ParseLdapURL parses LdapUrl. Both fail-over forms are accepted (docs/reference.md
// §2.2): hosts separated by blanks inside one URL,
//
//	ldap://ldap1.varrius.com ldap2.varrius.com:1389/o=internet
//
// and complete URLs separated by blanks,
//
//	ldap://h1/o=internet ldap://h2/o=internet
//
// which must agree on the scheme and (ignoring case) on the base DN,
// because the MMP has one directory tree per LdapUrl. The base DN is
// percent-decoded. Blanks inside the DN are kept: old configurations write
// "ou=People, o=siroe.com" unencoded, and a blank after the "/" cannot
// separate hosts any more; only a blank followed by ldap:// or ldaps://
// starts another URL. The ?attributes?scope?filter parts of RFC 4516 are
// refused: the MMP builds its own searches, and silently ignoring a filter
// written there would search something other than what the administrator
// meant.
func ParseLdapURL(s string) (LDAPURL, error) {
	s = trimBlanks(s)
	if s == "" {
		return LDAPURL{}, errors.New("empty LDAP URL")
	}
	var urls []LDAPURL
	for n := 1; s != ""; n++ {
		u, rest, err := parseOneLdapURL(s)
		if err != nil {
			if n > 1 {
				err = fmt.Errorf("URL %d: %w", n, err)
			}
			return LDAPURL{}, err
		}
		urls = append(urls, u)
		s = rest
	}
	u := urls[0]
	for i, v := range urls[1:] {
		if v.Scheme != u.Scheme {
			return LDAPURL{}, fmt.Errorf("URL %d: scheme %q differs from %q of URL 1; fail-over URLs must agree", i+2, v.Scheme, u.Scheme)
		}
		if !strings.EqualFold(v.BaseDN, u.BaseDN) {
			return LDAPURL{}, fmt.Errorf("URL %d: base DN %q differs from %q of URL 1; fail-over URLs must agree", i+2, v.BaseDN, u.BaseDN)
		}
		u.Hosts = append(u.Hosts, v.Hosts...)
	}
	if err := checkDupHosts(u.Hosts); err != nil {
		return LDAPURL{}, err
	}
	return u, nil
}

// checkDupHosts refuses a host listed twice, which would only make
// fail-over try a dead server twice.
func checkDupHosts(hosts []string) error {
	for i, h := range hosts {
		for _, g := range hosts[:i] {
			if strings.EqualFold(h, g) {
				return fmt.Errorf("host %s listed twice", h)
			}
		}
	}
	return nil
}

// splitScheme returns the lower-cased scheme of s and the text after
// "://", or ok false if s does not start with a scheme.
func splitScheme(s string) (scheme, rest string, ok bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return "", "", false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || j > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", false
		}
	}
	return strings.ToLower(s[:i]), s[i+3:], true
}

// parseOneLdapURL parses the URL at the start of s and returns the text of
// the next URL, if any.
func parseOneLdapURL(s string) (LDAPURL, string, error) {
	scheme, rest, ok := splitScheme(s)
	if !ok {
		return LDAPURL{}, "", fmt.Errorf("%q does not start with ldap:// or ldaps://", clip(s))
	}
	if scheme != "ldap" && scheme != "ldaps" {
		return LDAPURL{}, "", fmt.Errorf("unsupported scheme %q: want ldap or ldaps", scheme)
	}
	u := LDAPURL{Scheme: scheme}
	defPort := "389"
	if scheme == "ldaps" {
		defPort = "636"
	}
	// The URL ends where a blank is followed by the next URL; within it
	// the hosts run up to the first "/" outside brackets.
	head, next := splitNextURL(rest)
	slash := -1
	depth := 0
	for i := 0; i < len(head) && slash < 0; i++ {
		switch head[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '/':
			if depth == 0 {
				slash = i
			}
		}
	}
	if slash < 0 {
		// An unclosed "[" hid the slash; let the host parser say so.
		slash = strings.IndexByte(head, '/')
	}
	if slash < 0 {
		return LDAPURL{}, "", errors.New(`missing "/" and base DN after the host`)
	}
	for _, h := range strings.FieldsFunc(head[:slash], isBlank) {
		hp, err := parseLdapHost(h, defPort)
		if err != nil {
			return LDAPURL{}, "", err
		}
		u.Hosts = append(u.Hosts, hp)
	}
	if len(u.Hosts) == 0 {
		return LDAPURL{}, "", errors.New("missing host")
	}
	dn := head[slash+1:]
	if strings.ContainsRune(dn, '?') {
		return LDAPURL{}, "", errors.New(`attributes, scope and filter ("?..." after the base DN) are not supported`)
	}
	dec, err := url.PathUnescape(dn)
	if err != nil {
		return LDAPURL{}, "", fmt.Errorf("bad percent escape in base DN %q", dn)
	}
	if trimBlanks(dec) == "" {
		return LDAPURL{}, "", errors.New("missing base DN")
	}
	u.BaseDN = dec
	return u, next, nil
}

// splitNextURL cuts s where a blank is followed by another URL, returning
// the text before it with trailing blanks removed.
func splitNextURL(s string) (head, next string) {
	for i := 0; i < len(s); i++ {
		if !isBlank(rune(s[i])) {
			continue
		}
		j := i
		for j < len(s) && isBlank(rune(s[j])) {
			j++
		}
		if _, _, ok := splitScheme(firstField(s[j:])); ok {
			return strings.TrimRightFunc(s[:i], isBlank), s[j:]
		}
		i = j - 1
	}
	return strings.TrimRightFunc(s, isBlank), ""
}

// firstField returns s up to its first blank.
func firstField(s string) string {
	if i := strings.IndexFunc(s, isBlank); i >= 0 {
		return s[:i]
	}
	return s
}

// parseLdapHost parses host[:port] or [v6addr][:port] and returns
// "host:port".
func parseLdapHost(h, defPort string) (string, error) {
	host, port := h, defPort
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("bad host %q: missing \"]\"", h)
		}
		host = h[1:end]
		a, err := parseAddrNoZone(host)
		if err != nil || !a.Is6() {
			return "", fmt.Errorf("bad host %q: want an IPv6 address in brackets", h)
		}
		switch rest := h[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
		default:
			return "", fmt.Errorf("bad host %q", h)
		}
	} else {
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			host, port = h[:i], h[i+1:]
		}
		if strings.IndexByte(host, ':') >= 0 {
			return "", fmt.Errorf("bad host %q: an IPv6 address must be written in brackets", h)
		}
		if !isHostName(host) {
			return "", fmt.Errorf("bad host %q", h)
		}
	}
	p, err := parsePort(port)
	if err != nil {
		return "", fmt.Errorf("host %q: %w", h, err)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(p))), nil
}

// isHostName reports whether s is a plausible host name or IPv4 address:
// letters, digits, "-", "_" and ".", not starting with "." or "-". The
// underscore is tolerated because internal names often have one.
func isHostName(s string) bool {
	if s == "" || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.Contains(s, "..")
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// FromN4 builds the LdapUrl equivalent of the Netscape 4.x parameters
// LDAPHost and BaseDN (docs/reference.md §2.9, §7.27): ldap://LDAPHost/BaseDN.
// LDAPHost is host or host:port (several blank-separated hosts are
// accepted too); BaseDN is taken literally, since N4 never percent-encoded
// it. Neither may be empty: the caller fills in the N4 defaults
// (localhost:389, o=mcom.com) first.
func FromN4(ldapHost, baseDN string) (LDAPURL, error) {
	u := LDAPURL{Scheme: "ldap"}
	if strings.Contains(ldapHost, "://") {
		return LDAPURL{}, fmt.Errorf("LDAPHost %q: want host or host:port, not a URL", ldapHost)
	}
	for _, h := range strings.FieldsFunc(ldapHost, isBlank) {
		hp, err := parseLdapHost(h, "389")
		if err != nil {
			return LDAPURL{}, fmt.Errorf("LDAPHost: %w", err)
		}
		u.Hosts = append(u.Hosts, hp)
	}
	if len(u.Hosts) == 0 {
		return LDAPURL{}, errors.New("LDAPHost: missing host")
	}
	if err := checkDupHosts(u.Hosts); err != nil {
		return LDAPURL{}, fmt.Errorf("LDAPHost: %w", err)
	}
	u.BaseDN = trimBlanks(baseDN)
	if u.BaseDN == "" {
		return LDAPURL{}, errors.New("BaseDN: missing base DN")
	}
	return u, nil
}
