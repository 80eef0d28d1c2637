// Package proxy is the protocol-agnostic core of the Messaging Multiplexor
// (docs/reference.md §1.1, §4.1, §4.2.6, §4.7, §4.8): it listens on a service's
// addresses, runs one goroutine per client connection, resolves the
// connection's effective configuration by the server address it reached
// (vdmap), hands the pre-login dialogue to a Protocol (IMAP, POP, SMTP),
// finds the user's store through a Router, connects to it, and once the
// protocol has replayed the login, turns the session into a byte pipe in
// which the kernel moves the data (splice) and an idle session holds no
// buffer and no descriptor beyond its two sockets.
//
// The package owns no protocol and no directory: Protocol is implemented by
// imapproxy (and later popproxy, smtpproxy), Router by package directory.
//
// Typical usage:
//
//	srv := proxy.NewServer(proxy.Options{
//		Service:  svc,                      // *config.Service
//		Protocol: imapproxy.New(imapproxy.Options{}),
//		Directory:   dir,                      // *directory.Directory
//		Log:      lg,                       // *logging.Logger
//	})
//	lns, err := srv.Listen()                // every address of svc.Listen
//	if err != nil { ... }
//	for _, ln := range lns {
//		go srv.Serve(ln)
//	}
//	...
//	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
//	srv.Shutdown(ctx)                       // SIGTERM: drain, then close
package proxy
