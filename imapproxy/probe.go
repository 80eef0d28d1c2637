package imapproxy

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/openmmp/mmp/internal/wire"
)

// Probe reads a store's greeting and capabilities as the replay will find
// them (docs/reference.md §4.2.5), for AService -check --probe: the
// greeting must be "* OK", and the capabilities say how a login will be
// replayed (LOGIN with literals, AUTHENTICATE PLAIN, SASL-IR, LITERAL+).
func Probe(nc net.Conn) (found []string, err error) {
	sc := &storeConn{nc: nc, r: wire.NewReader(nc, maxStoreLine)}
	if err := sc.greeting(); err != nil {
		return nil, err
	}
	found = append(found, "greeting * OK")
	if sc.caps == nil {
		sc.nc.SetDeadline(storeDeadline())
		if _, err := nc.Write([]byte("P1 CAPABILITY\r\n")); err != nil {
			return found, err
		}
		for {
			line, err := sc.r.ReadLine()
			if err != nil {
				return found, fmt.Errorf("CAPABILITY: %w", err)
			}
			if rest, ok := strings.CutPrefix(string(line), "* CAPABILITY "); ok {
				sc.caps = capabilityCode("[CAPABILITY " + rest + "]")
			}
			if strings.HasPrefix(string(line), "P1 ") {
				break
			}
		}
	}
	caps := make([]string, 0, len(sc.caps))
	for c := range sc.caps {
		caps = append(caps, c)
	}
	sort.Strings(caps)
	found = append(found, "CAPABILITY "+strings.Join(caps, " "))
	nc.Write([]byte("P2 LOGOUT\r\n"))
	return found, nil
}
