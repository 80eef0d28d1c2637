// Package bench is the benchmark the project keeps: the MMP (ImapProxy, run
// as a separate process with the Netscape command line) against a client
// talking to Dovecot directly, side by side in one run, on loopback, with a
// private slapd as the directory and a private Dovecot as the store.
//
//	go test -run '^$' -bench . -timeout 15m ./bench/            # print the table
//	go test -run '^$' -bench . -timeout 15m ./bench/ -record    # and write it into docs/benchmarks.md
//
// It measures, for both paths:
//
//   - logins per second: 16 concurrent clients each connecting, reading the
//     greeting, LOGIN, LOGOUT, with the MMP's LDAP cache warm;
//   - the throughput of FETCH 1 BODY.PEEK[] of a real 10 MiB message stored
//     in the Dovecot mailbox, on one connection;
//   - the round-trip time of NOOP on one logged-in connection, p50 and p99;
//   - the resident memory per idle logged-in session with 5,000 sessions
//     open: for the MMP, (VmRSS after − VmRSS before) / 5,000 of its
//     process; for Dovecot, the same with the proportional set size (Pss)
//     summed over all its processes;
//   - POP3 logins per second (USER, PASS, QUIT, 16 clients), directly to
//     Dovecot's POP3 and through a PopProxy process;
//   - IMAP over implicit TLS, logins per second (full handshakes, and
//     with a client session cache) and FETCH of the 10 MiB
//     message: directly to Dovecot's IMAPS and through the SSL port of the
//     ImapProxy (TLS to the client, clear text to the store: TLS offload);
//     the certificate comes from internal/testenv/testcert;
//   - IMAP logins per second through an ImapProxy with PreAuth (-pre),
//     auth cache warm and off (--AuthCacheSize 0); these have no direct
//     counterpart.
//
// Rows that compare rates alternate direct and MMP rounds, so that drift of
// the machine (other load, CPU frequency) hits both alike; the median round
// is reported, with every round and the CPU time each process used in the
// details. The benchmark needs slapd, ldap-utils and Dovecot (scripts/deps
// installs them) and runs for about three minutes; every process it starts
// is stopped at the end, and every port is chosen at run time.
//
// Flags (after the package): -record, -sessions N, -clients N, -rounds N,
// -logintime D, -fetchtime D, -noops N, -gcview (run the MMP from
// bench/imapproxy-gcview, which is ImapProxy with an expvar endpoint, to add
// the Go runtime's own view of the memory; off by default so that the
// numbers are those of the real cmd/ImapProxy). BenchmarkLoginProfile, with
// -profile DIR (and -strace), writes the CPU profile and counts the system
// calls of the proxies during the login loads instead.
package bench
