package daemon

import (
	"fmt"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/tlsconf"
)

// serviceTLS loads the TLS setup of a service (certificates, keys,
// sslpassword.conf, ciphers). A failure is reported in the daemon log
// (Critical); the service still starts, but its SSL ports refuse their
// connections and STARTTLS/STLS are not offered, so nothing meant to be
// encrypted is served in clear text. On refresh call it again and hand
// the result to proxy.Server.SetTLS. The client side issues and accepts
// session tickets under keys (tlsconf.TicketKeys).
func serviceTLS(svc *config.Service, log *logging.Logger, keys *tlsconf.TicketKeys) *tlsconf.Config {
	c, err := tlsconf.LoadService(svc)
	if err == nil {
		keys.Use(c.Client)
	}
	if err != nil {
		msg := fmt.Sprintf("%s(%s): TLS is unusable: %v", svc.Protocol.ServiceName(), svc.File, err)
		if log != nil {
			logging.Critical(log.Slog(), msg)
		}
	}
	return c
}

// ticketKeys returns the session ticket keys of a service, made on first
// use and then the same across refreshes.
func (s *supervisor) ticketKeys(svc *config.Service) *tlsconf.TicketKeys {
	s.ticketsMu.Lock()
	defer s.ticketsMu.Unlock()
	key := serviceKey(svc)
	k := s.tickets[key]
	if k == nil {
		if s.tickets == nil {
			s.tickets = map[string]*tlsconf.TicketKeys{}
		}
		k = tlsconf.NewTicketKeys()
		s.tickets[key] = k
	}
	return k
}
