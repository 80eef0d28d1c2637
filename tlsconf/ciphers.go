package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// CipherSuites maps SSLCipherSpecs to Go cipher suites. "all" (or
// nothing) gives nil: Go's defaults. Otherwise each name may be a Go
// suite name (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), with SSL_ accepted
// for TLS_; a legacy NSS name whose cipher still exists in a secure form
// is mapped to the ECDHE/AEAD suites of the same cipher
// (SSL_RSA_WITH_AES_128_CBC_SHA → TLS_ECDHE_*_WITH_AES_128_GCM_SHA256);
// RC4, DES, 3DES, RC2, NULL and EXPORT suites are refused. The list only
// restricts TLS 1.2: Go's TLS 1.3 suites are always secure and not
// configurable.
func CipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 || len(names) == 1 && strings.EqualFold(names[0], "all") {
		return nil, nil
	}
	secure := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		secure[cs.Name] = cs.ID
	}
	var out []uint16
	seen := map[uint16]bool{}
	add := func(ids ...uint16) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
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
			return nil, fmt.Errorf("SSLCipherSpecs: %s is an insecure cipher (RC4, DES, 3DES, RC2, NULL, EXPORT or MD5) "+
				"that the Go MMP refuses; remove it, or write SSLCipherSpecs all", raw)
		case strings.Contains(n, "CHACHA20"):
			add(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
		case strings.Contains(n, "AES_128"):
			add(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
		case strings.Contains(n, "AES_256"):
			add(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
		default:
			return nil, fmt.Errorf("SSLCipherSpecs: unknown cipher %s; use Go suite names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 ...) or all", raw)
		}
	}
	return out, nil
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
