// Package bench is the benchmark the project keeps: the MMP (ImapProxy, run
// as a separate process with the Netscape command line) against a client
// talking to Dovecot directly and against nginx's mail proxy, side by side
// in one run, on loopback, with a private slapd as the directory and a
// private Dovecot as the store.
//
//	go test -run '^$' -bench . -timeout 15m ./bench/            # print the table
//	go test -run '^$' -bench . -timeout 15m ./bench/ -record    # and write it into docs/benchmarks.md
//
// The third column is nginx (Debian's nginx with libnginx-mod-mail), which
// the benchmark starts itself: a private configuration and prefix in a
// temporary directory, daemon off, master_process on with one worker
// (-nginxworkers N for more), an imap, an imap ssl (the same certificate)
// and a pop3 server block, proxy on, and auth_http pointing to
// bench/nginx-auth, a small auth_http service run as its own process that
// makes the MMP's LDAP lookup with the MMP's code and lookup cache (package
// directory), warmed like the MMP's. nginx's CPU is that of its master,
// its workers and the auth service together; its memory per session is
// the VmRSS of its workers.
//
// It measures, for every path:
//
//   - logins per second: 16 concurrent clients each connecting, reading the
//     greeting, LOGIN, LOGOUT, with the MMP's LDAP cache warm;
//   - the throughput of FETCH 1 BODY.PEEK[] of a real 10 MiB message stored
//     in the Dovecot mailbox, on one connection;
//   - the round-trip time of NOOP on one logged-in connection, p50 and p99,
//     one round trip each way in turn;
//   - the rate of opening the idle sessions below (connect, greeting,
//     LOGIN, 16 clients);
//   - the resident memory per idle logged-in session with 5,000 sessions
//     open: for the MMP, (VmRSS after − VmRSS before) / 5,000 of its
//     process; for nginx, of its workers together; for Dovecot, the same
//     with the proportional set size (Pss) summed over all its processes;
//     and the descriptors per session of the proxies;
//   - POP3 logins per second (USER, PASS, QUIT, 16 clients), directly to
//     Dovecot's POP3 and through a PopProxy process and nginx;
//   - IMAP over implicit TLS, logins per second (full handshakes, and
//     with a client session cache) and FETCH of the 10 MiB
//     message: directly to Dovecot's IMAPS and through the SSL port of the
//     ImapProxy and nginx's ssl listener (TLS to the client, clear text to
//     the store: TLS offload); and the full handshakes again, alternating
//     Dovecot's IMAPS with an ImapProxy whose SSLKeyExchangeGroups is
//     X25519, the key exchange Dovecot's OpenSSL 3.0 negotiates with Go's
//     client (the MMP's default is the hybrid X25519MLKEM768): like for
//     like;
//     the certificate comes from internal/testenv/testcert;
//   - IMAP logins per second through an ImapProxy with PreAuth (-pre),
//     auth cache warm and off (--AuthCacheSize 0); these have no direct
//     counterpart.
//
// Rows that compare rates alternate direct, nginx and MMP rounds, so that
// drift of the machine (other load, CPU frequency) hits all alike; the
// median round is reported, with every round and the CPU time each process
// used in the details. The benchmark needs slapd, ldap-utils, Dovecot,
// nginx and libnginx-mod-mail (scripts/deps installs them; without nginx
// it stops at once and says what to install) and runs for about four
// minutes; every process it starts is stopped at the end, and every port
// is chosen at run time.
//
// Flags (after the package): -record, -sessions N, -clients N, -rounds N,
// -logintime D, -fetchtime D, -noops N, -skipmem, -nginxworkers N,
// -nginxbuffer SIZE (nginx's proxy_buffer; its default is one memory
// page), -gcview (run the MMP from
// bench/imapproxy-gcview, which is ImapProxy with an expvar endpoint, to add
// the Go runtime's own view of the memory; off by default so that the
// numbers are those of the real cmd/ImapProxy). BenchmarkLoginProfile, with
// -profile DIR (and -strace), writes the CPU profile and counts the system
// calls of the proxies during the login loads instead. BenchmarkFocus,
// with -focus noop or -focus fetch, measures that one row alone (direct,
// nginx and MMP alternating), for trying a change quickly; with -focus
// idle, the memory per idle session of the MMP and nginx in clear text
// and over implicit TLS; with -focus logins, IMAP and POP3 logins per
// second with the CPU a login costs the proxy, the store and the client.
package bench
