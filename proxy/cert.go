package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// CertRouter maps a client certificate to a directory user with one map
// of certmap.conf (spec §3.7). A Router may implement it; package
// directory does. Errors wrap ErrNoUser (no entry, several entries, a
// stored certificate that differs) or ErrUnavailable.
type CertRouter interface {
	LookupCertificate(ctx context.Context, values *config.Values, cert *x509.Certificate, m *cfgfmt.Map) (*User, error)
}

// certmapCache keeps parsed certmap.conf files by path, reparsed when the
// file's modification time or size changes.
var certmapCache sync.Map // path -> *certmapEntry

type certmapEntry struct {
	mtime time.Time
	size  int64
	cm    *cfgfmt.Certmap
}

// loadCertmap reads and parses certmap.conf at path, from the cache when
// the file has not changed. Problems in the file are errors: a map the
// MMP cannot follow must not let anybody in.
func loadCertmap(path string) (*cfgfmt.Certmap, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if v, ok := certmapCache.Load(path); ok {
		e := v.(*certmapEntry)
		if e.mtime.Equal(fi.ModTime()) && e.size == fi.Size() {
			return e.cm, nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cm, errs := cfgfmt.ParseCertmap(path, data)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	certmapCache.Store(path, &certmapEntry{mtime: fi.ModTime(), size: fi.Size(), cm: cm})
	return cm, nil
}

// CertificateLoginOffered reports whether a certificate login (IMAP
// AUTHENTICATE EXTERNAL) can be offered: CertmapFile is set and the
// client presented a certificate that chained to SSLClientCAPEM.
func (s *Session) CertificateLoginOffered() bool {
	return config.Get(s.Values, param.CertmapFile) != "" && s.ClientCertificate() != nil
}

// RouteCertificate routes a login by the client's certificate (spec
// §3.7, §4.2.3 AUTHENTICATE EXTERNAL): the map of certmap.conf
// (CertmapFile) for the certificate's issuer, the user the directory
// finds with it, the replay name from ReplayFormat with the entry's uid
// as the login name. The route has ProxyAuth set: the protocol replays as
// StoreAdmin on the user's behalf. Errors wrap ErrNoUser (no verified
// certificate, no entry, several, a stored certificate that differs) or
// ErrUnavailable (no CertmapFile, an unreadable or bad certmap.conf, a
// directory that cannot map certificates or cannot answer).
func (s *Session) RouteCertificate(ctx context.Context) (*Route, error) {
	name := config.Get(s.Values, param.CertmapFile)
	if name == "" {
		return nil, fmt.Errorf("proxy: certificate login without CertmapFile: %w", ErrUnavailable)
	}
	cert := s.ClientCertificate()
	if cert == nil {
		return nil, fmt.Errorf("proxy: no verified client certificate: %w", ErrNoUser)
	}
	if err := s.waitPenalty(ctx); err != nil {
		return nil, err
	}
	path := name
	if s.Service != nil {
		path = s.Service.Path(name)
	}
	cm, err := loadCertmap(path)
	if err != nil {
		s.Log.Error(fmt.Sprintf("CertmapFile %s unusable: %v", path, err))
		return nil, fmt.Errorf("proxy: CertmapFile %s: %w: %w", path, err, ErrUnavailable)
	}
	cr, ok := s.srv.opts.Router.(CertRouter)
	if !ok {
		return nil, fmt.Errorf("proxy: the directory cannot map client certificates: %w", ErrUnavailable)
	}
	subject := cert.Subject.String()
	m := cm.MapFor(cert.Issuer.String())
	u, err := cr.LookupCertificate(ctx, s.Values, cert, m)
	if err == nil && u == nil {
		err = fmt.Errorf("proxy: directory returned no entry: %w", ErrNoUser)
	}
	if err != nil {
		if errors.Is(err, ErrNoUser) {
			s.LoginFailed()
			s.Log.Warn(fmt.Sprintf("client certificate '%s' (issuer '%s', certmap %s) maps to no user: %v",
				subject, cert.Issuer.String(), m.Name, err))
		}
		return nil, err
	}
	login := u.Attr("uid")
	if login == "" {
		login = u.DN
	}
	if err := s.checkUserAccess(ctx, u, login); err != nil {
		return nil, err
	}
	n := ParseName(login, s.Values)
	r := &Route{Name: n, User: u, Replay: ReplayName(n, u, s.Values), ProxyAuth: true,
		Query: Query{Name: n, Client: s.ClientAddr.Addr(), Server: s.ServerAddr.Addr(), CertDN: subject, Values: s.Values}}
	for _, h := range u.MailHosts {
		if h = strings.TrimSpace(h); h != "" {
			r.Hosts = append(r.Hosts, h)
		}
	}
	if len(r.Hosts) == 0 {
		return nil, fmt.Errorf("proxy: %s has no mail host: %w", u.DN, ErrNoUser)
	}
	if r.Replay == "" {
		return nil, fmt.Errorf("proxy: ReplayFormat gives an empty name for %s: %w", u.DN, ErrNoUser)
	}
	return r, nil
}
