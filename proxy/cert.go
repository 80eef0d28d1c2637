package proxy

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// certmaps are the certmap.conf files of a service configuration, read
// when the configuration is loaded or refreshed (NewServer, Update), never
// at login: a session uses the maps of the configuration it started with.
type certmaps map[string]certmapFile // by path

// certmapFile is one parsed certmap.conf, or why it cannot be used.
type certmapFile struct {
	cm  *cfgfmt.Certmap
	err error
}

// loadCertmaps reads every CertmapFile the service and its vdmap blocks
// name. A file that cannot be read or parsed is kept as its error: a map
// the MMP cannot follow must not let anybody in, and the other
// certificate logins go on.
func loadCertmaps(svc *config.Service) certmaps {
	m := certmaps{}
	add := func(v *config.Values) {
		name := config.Get(v, param.CertmapFile)
		if name == "" {
			return
		}
		path := svc.Path(name)
		if _, done := m[path]; done {
			return
		}
		data, err := os.ReadFile(path)
		if err != nil {
			m[path] = certmapFile{err: err}
			return
		}
		cm, errs := cfgfmt.ParseCertmap(path, data)
		if len(errs) > 0 {
			m[path] = certmapFile{err: errors.Join(errs...)}
			return
		}
		m[path] = certmapFile{cm: cm}
	}
	add(svc.Values)
	for _, d := range svc.Domains {
		add(d.Values)
	}
	return m
}

// CertificateLoginOffered reports whether a certificate login (SASL
// EXTERNAL) can be offered: CertmapFile is set and the client presented a
// certificate that chained to SSLClientCAPEM.
func (s *Session) CertificateLoginOffered() bool {
	return config.Get(s.Values, param.CertmapFile) != "" && s.ClientCertificate() != nil
}

// routeCertificate routes a login by the client's certificate
// (docs/reference.md §3.7): the map of certmap.conf (CertmapFile) for the
// certificate's issuer, the user the directory finds with it, the replay
// name from ReplayFormat with the entry's uid as the login name. The
// route has ProxyAuth set. Errors wrap account.ErrNoUser (no verified
// certificate, no entry, several, a stored certificate that differs) or
// account.ErrUnavailable (no CertmapFile, an unreadable or bad
// certmap.conf, a directory that cannot answer).
func (s *Session) routeCertificate(ctx context.Context) (*Route, error) {
	name := config.Get(s.Values, param.CertmapFile)
	if name == "" {
		return nil, fmt.Errorf("proxy: certificate login without CertmapFile: %w", account.ErrUnavailable)
	}
	cert := s.ClientCertificate()
	if cert == nil {
		return nil, fmt.Errorf("proxy: no verified client certificate: %w", account.ErrNoUser)
	}
	path := s.Service.Path(name)
	f, ok := s.certmaps[path]
	if !ok {
		f.err = errors.New("not loaded with the configuration")
	}
	if f.err != nil {
		s.Log.Error(fmt.Sprintf("CertmapFile %s unusable: %v", path, f.err))
		return nil, fmt.Errorf("proxy: CertmapFile %s: %w: %w", path, f.err, account.ErrUnavailable)
	}
	subject := cert.Subject.String()
	m := f.cm.MapFor(cert.Issuer.String())
	u, err := s.srv.dir().LookupCertificate(ctx, s.Values, cert, m)
	if err == nil && u == nil {
		err = fmt.Errorf("proxy: directory returned no entry: %w", account.ErrNoUser)
	}
	if err != nil {
		if errors.Is(err, account.ErrNoUser) {
			s.Log.Warn(fmt.Sprintf("client certificate '%s' (issuer '%s', certmap %s) maps to no user: %v",
				subject, cert.Issuer.String(), m.Name, err))
		}
		return nil, err
	}
	login := u.Attr("uid")
	if login == "" {
		login = u.DN
	}
	n := account.ParseName(login, s.Values)
	q := account.Query{Name: n, Client: s.ClientAddr.Addr(), Server: s.ServerAddr.Addr(), CertDN: subject, Values: s.Values}
	r, err := s.newRoute(ctx, n, u, q)
	if err != nil {
		return nil, err
	}
	r.ProxyAuth = true
	return r, nil
}
