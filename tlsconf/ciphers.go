package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// modernSuites replace a list made only of insecure names: the ECDHE
// suites with AEAD ciphers, which every current client offers.
var modernSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// CipherSuites maps SSLCipherSpecs to Go cipher suites. "all" (or
// nothing) gives nil: Go's defaults. Otherwise each name may be a Go
// suite name (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), with SSL_ accepted
// for TLS_; a legacy NSS name whose cipher still exists in a secure form
// is mapped to the ECDHE/AEAD suites of the same cipher
// (SSL_RSA_WITH_AES_128_CBC_SHA → TLS_ECDHE_*_WITH_AES_128_GCM_SHA256).
//
// RC4, DES, 3DES, RC2, NULL, EXPORT and MD5 suites, which make up the
// whole Netscape 4.x list (SSL_RSA_WITH_RC4_128_MD5 ...), are not offered
// but do not stop TLS either: a Netscape `-s` line must keep working. They
// are dropped with a warning that names the suites used instead: the
// list's other suites, or modernSuites when nothing else is left. The list
// only restricts TLS 1.2: Go's TLS 1.3 suites are always secure and not
// configurable. An unknown name is an error: it is a typo, not history.
func CipherSuites(names []string) (suites []uint16, warnings []string, err error) {
	if len(names) == 0 || len(names) == 1 && strings.EqualFold(names[0], "all") {
		return nil, nil, nil
	}
	secure := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		secure[cs.Name] = cs.ID
	}
	seen := map[uint16]bool{}
	add := func(ids ...uint16) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				suites = append(suites, id)
			}
		}
	}
	var insecure []string
	for _, raw := range names {
		n := strings.ToUpper(raw)
		if strings.HasPrefix(n, "SSL_") {
			n = "TLS_" + n[4:]
		}
		if id, ok := secure[n]; ok {
			add(id)
			continue
		}
		switch {
		case containsAny(n, "RC4", "DES", "RC2", "NULL", "EXPORT", "_MD5"):
			insecure = append(insecure, raw)
		case strings.Contains(n, "CHACHA20"):
			add(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
		case strings.Contains(n, "AES_128"):
			add(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
		case strings.Contains(n, "AES_256"):
			add(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
		default:
			return nil, nil, fmt.Errorf("SSLCipherSpecs: unknown cipher %s; use Go suite names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ...) or all", raw)
		}
	}
	if len(insecure) == 0 {
		return suites, nil, nil
	}
	if len(suites) == 0 {
		add(modernSuites...)
	}
	verb := "is"
	if len(insecure) > 1 {
		verb = "are"
	}
	var used []string
	for _, id := range suites {
		used = append(used, tls.CipherSuiteName(id))
	}
	warnings = append(warnings, fmt.Sprintf("SSLCipherSpecs: %s %s insecure (RC4, DES, 3DES, RC2, NULL, EXPORT or MD5) and not offered; "+
		"TLS 1.2 uses %s instead (TLS 1.3 always uses its own suites)", strings.Join(insecure, ", "), verb, strings.Join(used, ", ")))
	return suites, warnings, nil
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
