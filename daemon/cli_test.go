package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run calls a program in-process, as a shell script would call it.
func run(t *testing.T, prog string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = MainIO(prog, args, IO{Out: &out, Err: &errb, Environ: env})
	return code, out.String(), errb.String()
}

// lineOf finds the -h listing line of a parameter.
func lineOf(listing, name string) string {
	for _, l := range strings.Split(listing, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return strings.Join(f, " ")
		}
	}
	return ""
}

// `ImapProxy -h` alone lists every IMAP parameter with value and origin;
// `ImapProxy -h host` sets the directory host. Cobra must not take -h.
func TestDashHBothMeanings(t *testing.T) {
	code, out, errs := run(t, "ImapProxy", nil, "-h")
	if code != ExitOK || errs != "" {
		t.Fatalf("ImapProxy -h = %d, stderr %q", code, errs)
	}
	for _, want := range []string{"LDAPHost localhost:389 default", "Capability IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN default",
		"CanonicalVirtualDomainDelim + default", "HostedDomains no default", "ReplayFormat %s default", "LdapUrl ldap://localhost:389/o=mcom.com from LDAPHost and BaseDN"} {
		if got := lineOf(out, strings.Fields(want)[0]); got != want {
			t.Errorf("listing line %q, want %q", got, want)
		}
	}
	if strings.Contains(out, "SpoofMessageFile") || strings.Contains(out, "SmtpRelays") {
		t.Errorf("ImapProxy -h lists POP or SMTP parameters")
	}
	if strings.Contains(out, "Usage:") {
		t.Errorf("ImapProxy -h printed cobra's help instead of the parameter listing")
	}

	code, out, _ = run(t, "ImapProxy", nil, "-h", "ldap.airius.com:389", "-b", "o=airius.com", "-w", "s3cret", "-h")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if got := lineOf(out, "LDAPHost"); got != "LDAPHost ldap.airius.com:389 command line -h" {
		t.Errorf("LDAPHost line = %q", got)
	}
	if got := lineOf(out, "BindPass"); got != "BindPass ******** command line -w" {
		t.Errorf("BindPass line = %q; a password must never be shown", got)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the listing shows the password")
	}
}

func TestInstall(t *testing.T) {
	code, out, _ := run(t, "PopProxy", nil, "install", "-h", "ldap.airius.com:389", "-b", "o=airius.com", "-p", "110", "-m", "/opt/spoof.txt")
	want := "LDAPHost=ldap.airius.com:389; export LDAPHost\nBaseDN=o=airius.com; export BaseDN\nListenPort=110; export ListenPort\nSpoofMessageFile=/opt/spoof.txt; export SpoofMessageFile\n"
	if code != ExitOK || out != want {
		t.Errorf("PopProxy install = %d\n%s\nwant\n%s", code, out, want)
	}
}

// A value set in the file, the environment and on the command line
// resolves to the command line's; the listing says where each came from.
func TestPrecedenceThroughTheCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ImapMMP.config")
	os.WriteFile(file, []byte("LogLevel=3; export LogLevel\nBacksidePort=1143; export BacksidePort\nNumThreads=2; export NumThreads\n"), 0o644)
	env := []string{"LogLevel=4", "BacksidePort=2143", "PATH=/bin"}
	_, out, _ := run(t, "ImapProxy", env, "--config", file, "-v", "5", "-h")
	for _, want := range []string{"LogLevel 5 command line -v", "BacksidePort 2143 environment BacksidePort", "NumThreads 2 " + file + ":3", "Timeout 1800 default"} {
		if got := lineOf(out, strings.Fields(want)[0]); got != want {
			t.Errorf("line %q, want %q", got, want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	code, _, errs := run(t, "ImapProxy", nil, "-vdx", "x")
	if code != ExitUsage || !strings.Contains(errs, "-vdx: unknown option (did you mean -vd?)") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = run(t, "ImapProxy", []string{"LogLevel=loud"}, "-h")
	if code != ExitConfig || !strings.Contains(errs, "environment LogLevel") {
		t.Errorf("bad environment value: exit %d, stderr %q", code, errs)
	}
	code, out, _ := run(t, "SmtpProxy", nil, "--help")
	if code != ExitOK || !strings.Contains(out, "-ps [IP:]port") || !strings.Contains(out, "Usage: SmtpProxy [install] [options]") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

// A script that passes one option set to both programs: the other
// program's options are ignored with a warning, as its environment
// variables are. And -h alone lists and exits 0 for every program, the
// SMTP proxy included although it has no relay to run with yet.
func TestSharedOptionSet(t *testing.T) {
	spoof := filepath.Join(t.TempDir(), "spoof.txt")
	os.WriteFile(spoof, []byte("Subject: store down\r\n\r\nTry later.\r\n.\r\n"), 0o644)
	opts := []string{"-x", "IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN X-NETSCAPE", "-m", spoof, "-h"}
	code, out, errs := run(t, "PopProxy", nil, opts...)
	if code != ExitOK || errs != "PopProxy: -x: Capability is an option of ImapProxy, not of PopProxy; ignored\n" {
		t.Errorf("PopProxy %q = %d, stderr %q", opts, code, errs)
	}
	if got := lineOf(out, "SpoofMessageFile"); got != "SpoofMessageFile "+spoof+" command line -m" {
		t.Errorf("PopProxy listing: %q", got)
	}
	code, out, errs = run(t, "ImapProxy", nil, opts...)
	if code != ExitOK || errs != "ImapProxy: -m: SpoofMessageFile is an option of PopProxy, not of ImapProxy; ignored\n" {
		t.Errorf("ImapProxy %q = %d, stderr %q", opts, code, errs)
	}
	if got := lineOf(out, "Capability"); got != "Capability IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN X-NETSCAPE command line -x" {
		t.Errorf("ImapProxy listing: %q", got)
	}
	for _, prog := range []string{"ImapProxy", "PopProxy", "SmtpProxy"} {
		code, out, errs := run(t, prog, nil, "-h")
		if code != ExitOK || lineOf(out, "LDAPHost") == "" {
			t.Errorf("%s -h = %d, stderr %q", prog, code, errs)
		}
	}
	// A value that does not parse still fails the listing.
	dir := t.TempDir()
	file := filepath.Join(dir, "SmtpMMP.config")
	os.WriteFile(file, []byte("SmtpRelays=relay:0; export SmtpRelays\n"), 0o644)
	if code, _, errs := run(t, "SmtpProxy", nil, "--config", file, "-h"); code != ExitConfig || !strings.Contains(errs, file+":1: SmtpRelays:") {
		t.Errorf("SmtpProxy -h with a bad relay = %d, stderr %q", code, errs)
	}
}

// --help lists each option once, and never cobra's "-h, --help": in the
// Netscape programs -h is LDAPHost, or the parameter listing when alone.
func TestHelpListsEachOptionOnce(t *testing.T) {
	for _, prog := range []string{"ImapProxy", "PopProxy", "SmtpProxy", "AService"} {
		code, out, _ := run(t, prog, nil, "--help")
		if code != ExitOK {
			t.Errorf("%s --help = %d", prog, code)
		}
		if strings.Contains(out, "-h, --help") || strings.Contains(out, "Flags:") || strings.Contains(out, "[flags]") {
			t.Errorf("%s --help shows cobra's flags:\n%s", prog, out)
		}
		seen := map[string]int{}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(l, "  ") && (strings.HasPrefix(f[0], "-") || f[0] == "install") {
				seen[strings.TrimSuffix(f[0], ",")]++
			}
		}
		for opt, n := range seen {
			if n > 1 {
				t.Errorf("%s --help lists %s %d times:\n%s", prog, opt, n, out)
			}
		}
		if prog == "AService" {
			continue
		}
		for _, opt := range []string{"-h", "-s", "-p", "install", "--config"} {
			if seen[opt] != 1 {
				t.Errorf("%s --help does not list %s:\n%s", prog, opt, out)
			}
		}
		// PreAuth is no SMTP proxy parameter.
		if want := map[bool]int{true: 0, false: 1}[prog == "SmtpProxy"]; seen["-pre"] != want {
			t.Errorf("%s --help lists -pre %d times, want %d:\n%s", prog, seen["-pre"], want, out)
		}
		if !strings.Contains(out, "alone: list every parameter") {
			t.Errorf("%s --help does not say what -h alone does:\n%s", prog, out)
		}
	}
}

// The seed's -s line with the Netscape cipher list (Netscape Messaging
// Server 4.x Administrator's Guide, Tables 13.3 and 13.5) is accepted: a
// warning names the modern suites used instead. (Its NSS databases are
// what stops the proxy: Go cannot read them, docs/tls.md.)
func TestNetscapeCipherNames(t *testing.T) {
	ciphers := "SSL_RSA_WITH_RC4_128_MD5:SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA:SSL_RSA_WITH_3DES_EDE_CBC_SHA:SSL_RSA_FIPS_WITH_DES_CBC_SHA:" +
		"SSL_RSA_WITH_DES_CBC_SHA:SSL_RSA_EXPORT_WITH_RC4_40_MD5:SSL_RSA_EXPORT_WITH_RC2_CBC_40_MD5:SSL_RSA_WITH_NULL_MD5"
	code, out, errs := run(t, "ImapProxy", nil, "-s", "", "cert7.db", "key3.db", "", ciphers, "Server-Cert", "-h")
	if code != ExitConfig || !strings.Contains(errs, "SSLEnable: TLS cannot be set up") || strings.Contains(errs, "SSLCipherSpecs: unknown") {
		t.Errorf("exit %d, stderr %q; want the NSS databases, not the cipher names, refused", code, errs)
	}
	if !strings.Contains(errs, "SSLCipherSpecs: SSL_RSA_WITH_RC4_128_MD5, SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA,") ||
		!strings.Contains(errs, "not offered; TLS 1.2 uses TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,") {
		t.Errorf("stderr %q, want the cipher warning", errs)
	}
	if got := lineOf(out, "SSLCipherSpecs"); !strings.HasPrefix(got, "SSLCipherSpecs "+ciphers+" command line -s") {
		t.Errorf("listing %q", got)
	}
}

func TestCheckCommand(t *testing.T) {
	code, out, _ := run(t, "AService", nil, "-c", "../config/testdata/broken", "-check")
	if code != ExitConfig {
		t.Errorf("check of a broken instance exited %d, want %d", code, ExitConfig)
	}
	for _, want := range []string{
		"AService.cfg:4: LogLevell: unknown parameter (did you mean LogLevel?); ignored",
		"vdmap.cfg:3: BGMax: is not a vdmap property",
		"bgexcl.cfg:2: BGExcluded:",
		"../config/testdata/broken: 9 error(s), 12 warning(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, "AService", nil, "--config=../config/testdata/sun7", "--check")
	if code != ExitOK || !strings.Contains(out, "configuration OK (0 warning(s))") {
		t.Errorf("check of a good instance: exit %d\n%s", code, out)
	}
	// A Sun 6.3 instance as the site has it: its SSL block names an NSS
	// database, which Go cannot read; the check says what to do.
	code, out, _ = run(t, "AService", nil, "-c", "../config/testdata/sun63", "-check")
	if want := "ImapProxyAService.cfg:29: SSLEnable: TLS cannot be set up: SSLEnable is on but SSLCertPEM"; code != ExitConfig || !strings.Contains(out, want) {
		t.Errorf("check of the Sun 6.3 instance: exit %d, want %d and %q:\n%s", code, ExitConfig, want, out)
	}
	code, _, errs := run(t, "AService", nil, "-bogus")
	if code != ExitUsage || !strings.Contains(errs, "unknown option -bogus") {
		t.Errorf("exit %d, %q", code, errs)
	}
}
