package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/logging"
	"github.com/openmmp/mmp/param"
)

// ProxyHeaderTimeout bounds the wait for a load balancer's PROXY header
// (a variable for tests):
// a connection that does not send one within it is closed.
var ProxyHeaderTimeout = 5 * time.Second

// The HAProxy PROXY protocol on the client side: a trusted load balancer
// (ProxyProtocolTrusted) in front of a ProxyProtocolPorts listener tells
// the MMP its client's address, which from then on is the client's
// address everywhere (ConnLimits, BadGuys, TCPAccess, vdmap by the
// address the client reached, log lines, POP-before-SMTP, the relays and
// stores). github.com/pires/go-proxyproto reads the header: it knows both
// versions and the v2 TLVs, is fuzzed and widely used, which a parser of
// our own would have to earn.

// proxyInfo is what a PROXY header said.
type proxyInfo struct {
	client, server netip.AddrPort // zero for a LOCAL header (a health check)
	sslFacts       string         // the v2 SSL TLV, for the log; "" if none
	authority      string         // the v2 AUTHORITY TLV (the client's SNI); "" if none
}

// errNoProxyHeader: the connection did not start with a PROXY header.
var errNoProxyHeader = errors.New("no PROXY protocol header")

// readProxyHeader reads a PROXY header (v1 or v2) from c within timeout.
// The octets read past it stay in the returned reader's buffer: the
// session reads through it (see proxyConn). A malformed or missing header
// is an error.
func readProxyHeader(c net.Conn, timeout time.Duration) (proxyInfo, *bufio.Reader, error) {
	br := bufio.NewReaderSize(c, 256)
	c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	info, err := parseProxyHeader(br)
	if err != nil {
		return proxyInfo{}, nil, err
	}
	return info, br, nil
}

// parseProxyHeader reads one header from br.
func parseProxyHeader(br *bufio.Reader) (proxyInfo, error) {
	h, err := proxyproto.Read(br)
	switch {
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return proxyInfo{}, errNoProxyHeader
	case err != nil:
		return proxyInfo{}, fmt.Errorf("PROXY header: %w", err)
	}
	var info proxyInfo
	if h.Command.IsProxy() {
		src, dst, ok := h.TCPAddrs()
		if !ok {
			return proxyInfo{}, fmt.Errorf("PROXY header: not TCP (%v)", h.TransportProtocol)
		}
		info.client, info.server = src.AddrPort(), dst.AddrPort()
	}
	if tlvs, err := h.TLVs(); err == nil {
		if ssl, ok := tlvparse.FindSSL(tlvs); ok {
			v, _ := ssl.SSLVersion()
			cn, _ := ssl.ClientCN()
			info.sslFacts = fmt.Sprintf("TLS %s at the load balancer, client certificate %v (verified %v) %s", v, ssl.ClientCertConn(), ssl.Verified(), cn)
		}
		for _, t := range tlvs {
			if t.Type == proxyproto.PP2_TYPE_AUTHORITY {
				info.authority = string(t.Value)
			}
		}
	}
	return info, nil
}

// proxyConn is a client connection whose first octets (a PROXY header and
// whatever came with it) were read through r: reads drain r first.
type proxyConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *proxyConn) Read(b []byte) (int, error) {
	if p.r != nil {
		if p.r.Buffered() > 0 {
			return p.r.Read(b)
		}
		p.r = nil
	}
	return p.Conn.Read(b)
}

// acceptProxyHeader reads the load balancer's PROXY header on a
// ProxyProtocolPorts listener and makes the client it names this
// session's client: its address, the address it reached (and so the
// vdmap block) and, for a header read with early data, the connection's
// reader. It reports false, after a log line, for a connection that must
// not be served: from a source not in ProxyProtocolTrusted, without a
// header in time, with a malformed one, or a LOCAL one (a health check).
func (s *Session) acceptProxyHeader() bool {
	v := s.Values // the vdmap block of the address the balancer reached, or the service's
	ports := config.Get(v, param.ProxyProtocolPorts)
	if len(ports) == 0 || !cfgfmt.MatchPortSpec(ports, s.ServerAddr) {
		return true
	}
	peer := s.ClientAddr
	trusted := slices.ContainsFunc(config.Get(v, param.ProxyProtocolTrusted), func(p netip.Prefix) bool {
		return p.Contains(peer.Addr().Unmap())
	})
	if !trusted {
		logging.Notice(s.Log, fmt.Sprintf("connection from %s to %s refused: a PROXY protocol port, and %s is not in ProxyProtocolTrusted", peer, s.ServerAddr, peer.Addr()))
		return false
	}
	info, br, err := readProxyHeader(s.Client, ProxyHeaderTimeout)
	if err != nil {
		logging.Notice(s.Log, fmt.Sprintf("connection from %s to %s refused: %v", peer, s.ServerAddr, err))
		return false
	}
	if !info.client.IsValid() {
		s.Log.Debug(fmt.Sprintf("PROXY LOCAL from %s (a health check); closing", peer))
		return false
	}
	if br.Buffered() > 0 {
		s.SetClient(&proxyConn{Conn: s.Client, r: br})
	}
	s.ClientAddr, s.ServerAddr = info.client, info.server
	s.Values = s.Service.ForLocal(info.server.Addr())
	msg := fmt.Sprintf("PROXY from load balancer %s: client %s to %s", peer, info.client, info.server)
	if info.sslFacts != "" {
		msg += "; " + info.sslFacts
	}
	if info.authority != "" {
		msg += "; server name " + info.authority
	}
	s.Log.Info(msg)
	return true
}
