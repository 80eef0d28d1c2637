package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// groups are the key exchange groups crypto/tls implements, by the names
// SSLKeyExchangeGroups takes (param normalises the OpenSSL and Go
// spellings to these).
var groups = map[string]tls.CurveID{
	"X25519MLKEM768":     tls.X25519MLKEM768,
	"SecP256r1MLKEM768":  tls.SecP256r1MLKEM768,
	"SecP384r1MLKEM1024": tls.SecP384r1MLKEM1024,
	"X25519":             tls.X25519,
	"P256":               tls.CurveP256,
	"P384":               tls.CurveP384,
	"P521":               tls.CurveP521,
}

// KeyExchangeGroups maps SSLKeyExchangeGroups to Go's CurvePreferences.
// "default" (or nothing) gives nil: Go's default, which offers and
// prefers the hybrid post-quantum X25519MLKEM768 (then
// SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, P-256, P-384, P-521 as of
// Go 1.26) and follows Go's updates. The order of a list does not matter:
// crypto/tls picks from the allowed groups in its own order, post-quantum
// first, then a group the client sent a key share for (saving a round
// trip). An unknown name is an error.
func KeyExchangeGroups(names []string) ([]tls.CurveID, error) {
	if len(names) == 0 || len(names) == 1 && strings.EqualFold(names[0], "default") {
		return nil, nil
	}
	var ids []tls.CurveID
	for _, n := range names {
		id, ok := groups[n]
		if !ok {
			return nil, fmt.Errorf("SSLKeyExchangeGroups: unknown group %s; use X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024, X25519, P256, P384, P521 or default", n)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// KeyExchangeWarning says what a list accepted by KeyExchangeGroups
// cannot do: the hybrid post-quantum groups exist in TLS 1.3 only, so a
// list of nothing else leaves TLS 1.2 clients (the MMP accepts TLS 1.2)
// without a key exchange. "" when there is nothing to say.
func KeyExchangeWarning(ids []tls.CurveID) string {
	if len(ids) == 0 {
		return ""
	}
	for _, id := range ids {
		switch id {
		case tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024:
		default:
			return ""
		}
	}
	return "SSLKeyExchangeGroups: only hybrid post-quantum groups, which TLS 1.2 does not have: TLS 1.2 clients will be refused; add X25519 or P256 to serve them"
}
