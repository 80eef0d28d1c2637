package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
)

// ConnectTimeout bounds one attempt to connect to a store, and StoreTimeout
// one wait for a store's greeting or reply during the replay. The Sun
// documents leave both to the implementation; 30 s is the usual choice
// (docs/reference.md §4.7).
const (
	ConnectTimeout = 30 * time.Second
	StoreTimeout   = 30 * time.Second
)

// ErrStoreDown means no mail host of the user could be reached: IMAP
// answers with ServerDownAlert (docs/reference.md §4.2.7), POP with its spoof rules
// (§4.3.5).
var ErrStoreDown = errors.New("proxy: no store reachable")

// Route says where a login goes.
type Route struct {
	Name   account.Name  // the login name taken apart (docs/reference.md §3.8)
	User   *account.User // the directory entry
	Replay string        // the login name to replay to the store (ReplayFormat)
	Hosts  []string      // the mail hosts, in the order to try them
	Query  account.Query // what the directory was asked, for the password check

	// ProxyAuth: no password of the user exists (a client certificate
	// login); the store is logged in to as StoreAdmin on behalf of Replay
	// (docs/reference.md §4.2.5).
	ProxyAuth bool
}

// route looks a login name up: it parses the name with the session's
// values, asks the directory, applies the user's and the domain's access
// filters, and builds the replay name from ReplayFormat. Errors wrap
// account.ErrNoUser or account.ErrUnavailable; ErrNoUser also covers an
// entry with no mail host or with an empty replay name, since the user
// cannot log in either way and the client must not learn why.
func (s *Session) route(ctx context.Context, login string) (*Route, error) {
	name := account.ParseName(login, s.Values)
	q := account.Query{
		Name:   name,
		Client: s.ClientAddr.Addr(),
		Server: s.ServerAddr.Addr(),
		Values: s.Values,
	}
	u, err := s.srv.dir().Lookup(ctx, q)
	if err == nil && u == nil {
		err = fmt.Errorf("proxy: directory returned no entry for %q: %w", login, account.ErrNoUser)
	}
	if err != nil {
		return nil, err
	}
	return s.newRoute(ctx, name, u, q)
}

// newRoute checks a user found by name or certificate and says where
// their login goes.
func (s *Session) newRoute(ctx context.Context, name account.Name, u *account.User, q account.Query) (*Route, error) {
	if err := s.checkUserAccess(ctx, u, name.Orig); err != nil {
		return nil, err
	}
	r := &Route{Name: name, User: u, Replay: ReplayName(name, u, s.Values), Query: q}
	for _, h := range u.MailHosts {
		if h = strings.TrimSpace(h); h != "" {
			r.Hosts = append(r.Hosts, h)
		}
	}
	if len(r.Hosts) == 0 {
		return nil, fmt.Errorf("proxy: %s has no mail host: %w", u.DN, account.ErrNoUser)
	}
	if r.Replay == "" {
		return nil, fmt.Errorf("proxy: ReplayFormat %q gives an empty name for %s: %w",
			config.Get(s.Values, param.ReplayFormat).String(), u.DN, account.ErrNoUser)
	}
	return r, nil
}

// ReplayName expands ReplayFormat for a user (docs/reference.md §3.8): %U
// user part, %V domain, %s user+canonical delimiter+domain, %o the name as
// sent, %A[attr] the first value of the user's attribute attr. The user's
// domain's mailAccessProxyReplay, when it has one, takes ReplayFormat's
// place (docs/reference.md §2.3).
func ReplayName(n account.Name, u *account.User, v *config.Values) string {
	f := config.Get(v, param.ReplayFormat)
	if u.Domain != nil && u.Domain.Replay != "" {
		if df, err := cfgfmt.ParseFormat(u.Domain.Replay, cfgfmt.ReplayEscapes); err == nil {
			f = df
		}
	}
	return f.Expand(func(esc byte, arg string) string {
		switch esc {
		case 'U':
			return n.User
		case 'V':
			return n.Domain
		case 's':
			return n.Canon
		case 'o':
			return n.Orig
		case 'A':
			return u.Attr(arg)
		}
		return ""
	})
}

// storeAddr joins a mail host with BacksidePort. A mailHost value that
// already carries a port (host:port, [v6]:port) keeps it.
func storeAddr(host string, port int) string {
	if h, p, err := net.SplitHostPort(host); err == nil && h != "" {
		if _, err := strconv.Atoi(p); err == nil {
			return host
		}
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// DialStore connects to one mail host on BacksidePort, within
// ConnectTimeout. The connection belongs to the session until it is
// returned in a Store or released.
//
// With StoreAnnounce proxy or proxy-v2 the PROXY protocol header that
// names the client goes first.
//
// With SSLBacksidePort set, it connects to that port instead and runs a
// TLS handshake, verifying the store's certificate for the mail host's
// name (tlsconf.StoreOptions); the connection returned is then a
// *tls.Conn.
func (s *Session) DialStore(ctx context.Context, host string) (net.Conn, error) {
	port, tcfg := s.storeTLS(host)
	addr := storeAddr(host, port)
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	c, err := s.srv.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// StoreAnnounce proxy: the header comes first, before any TLS.
	var header []byte
	switch config.Get(s.Values, param.StoreAnnounce) {
	case "proxy":
		header = proxyHeaderV1(s.ClientAddr, s.ServerAddr)
	case "proxy-v2":
		header = proxyHeaderV2(s.ClientAddr, s.ServerAddr)
	}
	if header != nil {
		c.SetWriteDeadline(time.Now().Add(StoreTimeout))
		if _, err := c.Write(header); err != nil {
			c.Close()
			return nil, fmt.Errorf("PROXY header: %w", err)
		}
		c.SetWriteDeadline(time.Time{})
	}
	if tcfg != nil {
		if c, err = storeHandshake(ctx, c, tcfg); err != nil {
			return nil, err
		}
	}
	if !s.trackStore(c) {
		c.Close()
		return nil, net.ErrClosed
	}
	return c, nil
}

// ConnectStore tries the route's mail hosts in turn and returns the first
// connection for which hello (reading and checking the store's greeting)
// succeeds, with its address. hello may be nil. When every host fails the
// error wraps ErrStoreDown and the last failure.
func (s *Session) ConnectStore(ctx context.Context, r *Route, hello func(net.Conn) error) (net.Conn, string, error) {
	var last error
	for _, h := range r.Hosts {
		port, _ := s.storeTLS(h)
		addr := storeAddr(h, port)
		began := time.Now()
		c, err := s.DialStore(ctx, h)
		if err == nil && hello != nil {
			if err = hello(c); err != nil {
				s.Release(c)
			}
		}
		if ctx.Err() == nil {
			metrics.StoreConnect(addr, time.Since(began), err)
		}
		if err == nil {
			return c, addr, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		last = err
		s.Log.Warn(fmt.Sprintf("store %s for user '%s' not usable: %v", addr, r.Name.Orig, err))
	}
	return nil, "", fmt.Errorf("%w: %w", ErrStoreDown, last)
}
