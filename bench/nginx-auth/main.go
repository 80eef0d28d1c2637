// Command nginx-auth is the auth_http service of nginx's mail proxy for the
// benchmark (bench/): nginx asks it, for every login, where the user's
// mailbox is, and it answers with the same LDAP lookup the MMP makes, by
// the same code (package directory, with its lookup cache, LdapCacheSize
// and LdapCacheTTL as the MMP has them), configured by the same Netscape
// command line as ImapProxy:
//
//	nginx-auth -listen 127.0.0.1:PORT -imap PORT -pop3 PORT -- -h LDAPHOST:PORT -b BASE -D BINDDN -w PASS --HostedDomains no
//
// Like the MMP without PreAuth, it does not check the password: the store
// does, when nginx replays the login. The answer follows nginx's
// ngx_mail_auth_http_module protocol: Auth-Status OK with Auth-Server (an
// IP address; the mailHost is resolved here, as the MMP resolves it when
// it dials) and Auth-Port (the store's port for Auth-Protocol), or an
// error status with Auth-Wait. It is not installed or shipped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/legacy"
	"github.com/openmmp/mmp/param"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address of the auth_http service")
	imapPort := flag.Int("imap", 143, "the store's IMAP port (Auth-Port for imap)")
	popPort := flag.Int("pop3", 110, "the store's POP3 port (Auth-Port for pop3)")
	flag.Parse()
	svc := &service{dir: directory.New(directory.Options{}), ports: map[string]int{"imap": *imapPort, "pop3": *popPort}}
	var err error
	if svc.imap, err = values(param.IMAP, flag.Args()); err == nil {
		svc.pop, err = values(param.POP, flag.Args())
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nginx-auth: %v\n", err)
		os.Exit(2)
	}
	srv := &http.Server{Addr: *listen, Handler: svc, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "nginx-auth: listening on %s\n", *listen)
	fmt.Fprintf(os.Stderr, "nginx-auth: %v\n", srv.ListenAndServe())
	os.Exit(3)
}

// values resolves a Netscape command line as ImapProxy (or PopProxy)
// would.
func values(svc param.Where, args []string) (*config.Values, error) {
	c, err := legacy.Parse(svc, args)
	if err != nil {
		return nil, err
	}
	inst, problems := config.LoadFrontEnd(config.FrontEnd{Protocol: svc, Flags: c.Settings})
	if err := problems.Err(config.Fatal); err != nil {
		return nil, err
	}
	return inst.Services[0].Values, nil
}

type service struct {
	dir       *directory.Directory
	imap, pop *config.Values
	ports     map[string]int
}

// ServeHTTP answers one request of nginx: GET with Auth-User,
// Auth-Protocol, Client-IP (the body is empty, the answer in headers).
func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	proto := r.Header.Get("Auth-Protocol")
	v := s.imap
	if proto == "pop3" {
		v = s.pop
	}
	port, ok := s.ports[proto]
	if !ok {
		refuse(w, "Temporary server problem, try again later", "")
		return
	}
	name := account.ParseName(r.Header.Get("Auth-User"), v)
	q := account.Query{Name: name, Values: v}
	if ip, err := netip.ParseAddr(r.Header.Get("Client-IP")); err == nil {
		q.Client = ip
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	u, err := s.dir.Lookup(ctx, q)
	if err != nil {
		if errors.Is(err, account.ErrNoUser) {
			refuse(w, "Invalid login or password", "3")
		} else {
			refuse(w, "Temporary server problem, try again later", "")
		}
		return
	}
	var host string
	for _, h := range u.MailHosts {
		if h = strings.TrimSpace(h); h != "" {
			host = h
			break
		}
	}
	ip, err := resolve(ctx, host)
	if err != nil {
		refuse(w, "Temporary server problem, try again later", "")
		return
	}
	h := w.Header()
	h.Set("Auth-Status", "OK")
	h.Set("Auth-Server", ip)
	h.Set("Auth-Port", strconv.Itoa(port))
	w.WriteHeader(http.StatusOK)
}

// resolve turns a mailHost into the IP address nginx needs.
func resolve(ctx context.Context, host string) (string, error) {
	if host == "" {
		return "", errors.New("no mail host")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.String(), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return "", fmt.Errorf("mail host %q: %v", host, err)
	}
	return ips[0].Unmap().String(), nil
}

func refuse(w http.ResponseWriter, status, wait string) {
	w.Header().Set("Auth-Status", status)
	if wait != "" {
		w.Header().Set("Auth-Wait", wait)
	}
	w.WriteHeader(http.StatusOK)
}
