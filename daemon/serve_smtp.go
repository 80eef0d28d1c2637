package daemon

import (
	"github.com/openmmp/mmp/authsvc"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/smtpproxy"
)

// smtpProtocol builds the SMTP submission proxy of one SmtpProxyAService
// service (docs/reference.md §4.4). One protocol serves the service for its whole life:
// it holds the relay rotation and the relays being avoided, which the
// service's sessions share.
//
// popLogins is the AuthService cache of a POP
// service in the same process, or nil. POP-before-SMTP asks the POP proxy
// at PopBeforeSmtpServer with XQUERYAUTH when that is set (PopProxy runs
// in another process or on another host, docs/reference.md §4.3.3), else popLogins;
// with neither there is no POP-before-SMTP.
func smtpProtocol(svc *config.Service, popLogins *authsvc.Cache) proxy.Protocol {
	var opts smtpproxy.Options
	if addr := config.Get(svc.Values, param.PopBeforeSmtpServer); addr != "" {
		opts.PopBeforeSMTP = authsvc.Remote{Addr: addr}
	} else if popLogins != nil {
		opts.PopBeforeSMTP = popLogins
	}
	return smtpproxy.New(opts)
}
