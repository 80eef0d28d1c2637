package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/imapproxy"
	"github.com/openmmp/mmp/param"
	"github.com/openmmp/mmp/popproxy"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/smtpproxy"
	"github.com/openmmp/mmp/tlsconf"
)

// maxProbedStores bounds how many mail hosts a probe connects to.
const maxProbedStores = 20

// finding is what a probe learnt about one peer of a service.
type finding struct {
	service string // the service's instance name
	peer    string // "directory ldap://…", "store host:port", "relay host:port"
	found   []string
	err     error // why sessions will fail; nil when all is well
}

func (f finding) String() string {
	s := f.service + ": " + f.peer
	if len(f.found) > 0 {
		s += ": " + strings.Join(f.found, "; ")
	}
	if f.err != nil {
		s += ": ERROR: " + f.err.Error()
	}
	return s
}

// probe connects to what each service of inst talks to, as its sessions
// will (docs/reference.md §4.2.5, §4.4.1): the directory (its base entry,
// and the mail hosts of a sample of users), every store found that way
// (greeting, capabilities, TLS when SSLBacksidePort is set) and every
// relay (greeting, EHLO, the SmtpRelayAnnounce introduction). AService
// -check --probe prints the findings; the daemon logs them at start.
func probe(ctx context.Context, inst *config.Instance, dir *directory.Directory) []finding {
	host, _ := os.Hostname()
	var out []finding
	for _, svc := range inst.Services {
		name := svc.Name
		if svc.Section != "" && svc.Section != "default" {
			name += "(" + svc.Section + ")"
		}
		v := svc.Values
		switch svc.Protocol {
		case param.SMTP:
			for _, addr := range config.Get(v, param.SmtpRelays) {
				found, err := smtpproxy.ProbeRelay(ctx, v, addr, host)
				out = append(out, finding{name, "relay " + addr, found, err})
			}
		case param.IMAP, param.POP:
			server, hosts, complete, err := dir.MailHosts(ctx, v)
			f := finding{service: name, peer: "directory " + server, err: err}
			if server == "" {
				f.peer = "directory " + config.Get(v, param.LdapUrl).String()
			}
			if err == nil {
				sample := ""
				if !complete {
					sample = " (of a sample of users)"
				}
				f.found = []string{fmt.Sprintf("base readable; %d mail host(s)%s: %s", len(hosts), sample, strings.Join(hosts, " "))}
			}
			out = append(out, f)
			tc, _ := tlsconf.LoadService(svc)
			for i, h := range hosts {
				if i == maxProbedStores {
					out = append(out, finding{name, "stores", []string{fmt.Sprintf("%d more not probed", len(hosts)-i)}, nil})
					break
				}
				out = append(out, probeStore(ctx, name, svc.Protocol, v, tc, h))
			}
		}
	}
	return out
}

// probeStore connects to one mail host and reads what the replay will.
func probeStore(ctx context.Context, service string, proto param.Where, v *config.Values, tc *tlsconf.Config, host string) finding {
	nc, addr, err := proxy.DialStore(ctx, v, tc, host)
	f := finding{service: service, peer: "store " + addr, err: err}
	if err != nil {
		return f
	}
	defer nc.Close()
	if t, ok := nc.(*tls.Conn); ok {
		st := t.ConnectionState()
		f.found = append(f.found, "TLS "+tls.VersionName(st.Version)+" "+tls.CipherSuiteName(st.CipherSuite))
	}
	var found []string
	if proto == param.POP {
		found, err = popproxy.Probe(nc)
	} else {
		found, err = imapproxy.Probe(nc)
	}
	f.found, f.err = append(f.found, found...), err
	return f
}

// runProbe is AService -check --probe and the front ends' --probe: it
// prints every finding and says whether any is an error.
func runProbe(w io.Writer, inst *config.Instance) (ok bool) {
	dir := directory.New(directory.Options{})
	defer dir.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ok = true
	for _, f := range probe(ctx, inst, dir) {
		fmt.Fprintln(w, f)
		if f.err != nil {
			ok = false
		}
	}
	return ok
}

// logProbe runs the probe in the background once the daemon serves and
// logs each finding: an error (a relay that refuses the introduction, a
// store that cannot be reached) at Error, the rest at Notice.
func (s *supervisor) logProbe(ctx context.Context) {
	if s.dir == nil {
		return
	}
	for _, f := range probe(ctx, s.inst, s.dir) {
		if f.err != nil {
			s.logs.main.Slog().Error("probe: " + f.String())
		} else {
			s.logs.main.Slog().Info("probe: " + f.String())
		}
	}
}
