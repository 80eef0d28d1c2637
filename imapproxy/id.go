package imapproxy

import (
	"strconv"
	"strings"

	"github.com/openmmp/mmp/internal/wire"
	"github.com/openmmp/mmp/proxy"
)

// handleID answers ID (RFC 2971) for the MMP itself, only when ID is in
// the effective capability list; it is never forwarded before login, so
// the store sees the client's ID only if the client repeats it after
// login (docs/reference.md §4.2.3, §7.34).
//
// With StoreAnnounce id the client's parameters are kept, less any that
// would speak for the MMP (x-originating-*, x-connected-*, x-session-*),
// and go to the store with the MMP's own before the login (replay.go).
func (c *conn) handleID(cmd *wire.Command) error {
	if len(cmd.Args) != 1 || (cmd.Args[0].Kind != wire.List && !cmd.Args[0].IsNil()) {
		return badArgs("ID takes a parameter list or NIL")
	}
	c.clientID = c.clientID[:0]
	if l := cmd.Args[0].List; len(l)%2 == 0 {
		for i := 0; i+1 < len(l); i += 2 {
			k, v := string(l[i].Value), string(l[i+1].Value)
			if l[i+1].IsNil() || reservedID(k) || len(c.clientID) >= 2*maxClientID {
				continue
			}
			c.clientID = append(c.clientID, k, v)
		}
	}
	c.untagged("ID (\"name\" " + strconv.Quote(proxy.Product) + " \"version\" " + strconv.Quote(c.p.id.Version) + ")")
	c.ok(cmd.Tag, "ID completed")
	return nil
}

// maxClientID bounds how many ID parameters of the client are kept (RFC
// 2971 §3.3 allows 30).
const maxClientID = 30

// reservedID says whether an ID field name is one only the MMP may send:
// Dovecot takes the client's address and the session id from them.
func reservedID(k string) bool {
	k = strings.ToLower(k)
	return strings.HasPrefix(k, "x-originating-") || strings.HasPrefix(k, "x-connected-") || strings.HasPrefix(k, "x-session-")
}
