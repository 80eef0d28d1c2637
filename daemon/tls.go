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
// the result to proxy.Server.SetTLS.
func serviceTLS(svc *config.Service, log *logging.Logger) *tlsconf.Config {
	c, err := tlsconf.LoadService(svc)
	if err != nil {
		msg := fmt.Sprintf("%s(%s): TLS is unusable: %v", svc.Protocol.ServiceName(), svc.File, err)
		if log != nil {
			logging.Critical(log.Slog(), msg)
		}
	}
	return c
}
