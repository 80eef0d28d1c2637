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
	return smtpproxy.New(smtpproxy.Options{PopBeforeSMTP: popBeforeSMTP(svc, popLogins)})
}

// popBeforeSMTP is where an SMTP service asks about POP logins, or nil
// for nowhere. A refresh asks it again (a POP service added beside the
// SMTP proxy, PopBeforeSmtpServer changed) and gives the answer to the
// running protocol.
func popBeforeSMTP(svc *config.Service, popLogins *authsvc.Cache) authsvc.Querier {
	if addr := config.Get(svc.Values, param.PopBeforeSmtpServer); addr != "" {
		return authsvc.Remote{Addr: addr}
	}
	if popLogins != nil {
		return popLogins
	}
	return nil
}
