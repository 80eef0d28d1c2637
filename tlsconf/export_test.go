package tlsconf

import "time"

// SetTicketClock makes k read the time from now.
func SetTicketClock(k *TicketKeys, now func() time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.now = now
}
