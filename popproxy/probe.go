package popproxy

import (
	"net"
	"sort"
	"strings"

	"github.com/openmmp/mmp/internal/wire"
)

// Probe reads a store's greeting and its CAPA SASL mechanisms as the
// replay will find them (docs/reference.md §4.3.4), for AService -check
// --probe: the greeting must be "+OK"; with SASL PLAIN, AUTH logins are
// replayed with AUTH PLAIN, else with USER and PASS.
func Probe(nc net.Conn) (found []string, err error) {
	// A cache of its own: the probe asks CAPA every time.
	sc := &storeConn{nc: nc, r: wire.NewReader(nc, maxStoreLine), caps: &storeCapas{}}
	if err := sc.greeting(); err != nil {
		return nil, err
	}
	found = append(found, "greeting +OK")
	if err := sc.capa(); err != nil {
		return found, err
	}
	mechs := make([]string, 0, len(sc.sasl))
	for m := range sc.sasl {
		mechs = append(mechs, m)
	}
	sort.Strings(mechs)
	found = append(found, "SASL "+strings.Join(mechs, " "))
	sc.send("QUIT")
	return found, nil
}
