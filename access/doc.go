// Package access makes the Messaging Multiplexor's admission decisions
// (docs/reference.md §2.5, §3.4, §3.6, §4.1, §4.6): how many connections one client
// address may hold (ConnLimits, ConnCounter) and how long a client that
// keeps failing to authenticate is made to wait (BadGuys). The TCPAccess
// filters themselves are parsed and evaluated by cfgfmt.Filter.Allows; this
// package adds nothing to them.
//
// The package is pure: it does no network I/O, starts no goroutine and
// writes no log. It returns what the caller needs to act and to log —
// whether to refuse and under which limit, the badness to report — and the
// caller (package proxy) sends the protocol's refusal and writes the line.
// Addresses are netip.Addr; IPv4-mapped IPv6 addresses, which a dual-stack
// listener reports for IPv4 peers, are treated as the IPv4 address they
// carry, and zones are ignored.
//
// Decisions taken here where the sources are silent:
//
//   - ConnLimits counts per single IPv4 client address, and per IPv6 /64
//     (ConnLimitsIPv6Prefix), the network of an entry only choosing the
//     limit (docs/reference.md §7.36, §7.37). An IPv6 client that no
//     entry matches gets the limit of the IPv4 catch-all 0.0.0.0|0.0.0.0
//     when there is one: the default ConnLimits was written for "everyone"
//     before IPv6 (§7.37), and leaving IPv6 clients unlimited would
//     open a hole in a proxy that faces the internet. See ConnCounter.
//   - BadGuys tracks an IPv6 client by its /64 and an IPv4 client by its
//     address. See BadGuys.
//   - BadGuys is always active, PreAuth or not: store-reported failures
//     count too (docs/reference.md §7.11). Whether a failure is counted is the
//     caller's call; this package only keeps the score.
//
// Typical usage, in a session's own goroutine:
//
//	release, ok, limit := conns.Acquire(client)
//	if !ok {
//		log.Printf("Connection limit reached for client IP %s", client)
//		// send "* BYE ...", "-ERR ..." or "421 ..." and close (limit = %d)
//		return
//	}
//	defer release()
//	...
//	if err := bad.Wait(ctx, client); err != nil { // docs/reference.md §4.6: every attempt waits
//		return
//	}
//	if loginFailed {
//		if n, logged := bad.Failure(client); logged {
//			log.Printf("badguy %s now has %d badness", client, access.Seconds(n))
//		}
//	} else {
//		bad.Success(client)
//	}
package access
