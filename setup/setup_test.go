package setup

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func init() {
	// The default instance name must not depend on the machine.
	hostname = func() (string, error) { return "testhost", nil }
}

// runSetup runs mmp-setup in-process with stdin (not a terminal).
func runSetup(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := MainIO(args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errw})
	return code, out.String() + errw.String()
}

// fill replaces ROOT and LDAPPORT in a template of answers or of a golden
// file.
func fill(s, root string, port int) string {
	return strings.NewReplacer("ROOT", root, "LDAPPORT", strconv.Itoa(port)).Replace(s)
}

// unfill is the inverse of fill, for comparing written files with golden
// ones.
func unfill(s, root string, port int) string {
	s = strings.ReplaceAll(s, root, "ROOT")
	if port != 0 {
		s = strings.ReplaceAll(s, "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:LDAPPORT")
	}
	return s
}

// snapshot reads every regular file below dir.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func fileNames(files map[string][]byte) []string {
	var ns []string
	for n := range files {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// sameFiles fails unless two snapshots hold the same files, byte for byte.
func sameFiles(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if g, w := strings.Join(fileNames(got), " "), strings.Join(fileNames(want), " "); g != w {
		t.Fatalf("%s: files %s, want %s", what, g, w)
	}
	for n, w := range want {
		if !bytes.Equal(got[n], w) {
			t.Errorf("%s: %s differs:\n--- got\n%s\n--- want\n%s", what, n, got[n], w)
		}
	}
}

// checkGolden compares the files of dir with testdata/name after putting
// ROOT and LDAPPORT back, or rewrites the golden files with -update.
func checkGolden(t *testing.T, dir, name, root string, port int) {
	t.Helper()
	got := snapshot(t, dir)
	gdir := filepath.Join("testdata", name)
	if *update {
		os.RemoveAll(gdir)
		for n, data := range got {
			p := filepath.Join(gdir, n)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(unfill(string(data), root, port)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := snapshot(t, gdir)
	for n, data := range want {
		want[n] = []byte(fill(string(data), root, port))
	}
	sameFiles(t, "golden "+name, got, want)
}

// mustLoad fails on any error config.Load finds in an instance.
func mustLoad(t *testing.T, dir string) {
	t.Helper()
	_, ps := config.Load(dir, config.Options{})
	if err := ps.Err(config.Fatal); err != nil {
		t.Fatalf("config.Load(%s):\n%v", dir, err)
	}
}

// newRoot makes an installation root with the certificate files the
// answers name (config.Load checks that they exist).
func newRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "certs"), 0o755)
	for _, f := range []string{"mmp.crt", "mmp.key"} {
		os.WriteFile(filepath.Join(root, "certs", f), []byte("placeholder\n"), 0o600)
	}
	return root
}

// imapPopAnswers is the fixed answer set of the golden test: IMAP and POP
// on loopback ports against the test slapd, with overrides, a virtual
// domain and SSL. The y/n questions are implied by the values.
const imapPopAnswers = `# golden answer set
root = ROOT
instance = mmp1
service = imap+pop
ldap.host = 127.0.0.1:LDAPPORT
ldap.basedn = o=internet
loglevel = 5
bind.dn = cn=mmp,o=internet
bind.password = mmppw
threads = 4
imap.port = 127.0.0.1:10143
pop.port = 127.0.0.1:10110
imap.storeport = 1143
banner = MMP %h ready
replay.attr = uid
vdmap.file = vdmap.cfg
vdmap.name = siroe
vdmap.ip = 127.0.0.1
vdmap.domain = siroe.com
canonical = +
imap.ssl = y
pop.ssl = y
imap.sslport = 127.0.0.1:10993
ssl.cert = ROOT/certs/mmp.crt
ssl.key = ROOT/certs/mmp.key
preauth = y
`

// imapPopLines answers the same questions as imapPopAnswers, in the
// order the plain prompts ask them, as a here-document would. The first
// imap.port answer is invalid and must be asked again.
const imapPopLines = `nobody
ROOT
mmp1
3
127.0.0.1:LDAPPORT
o=internet

5
y
cn=mmp,o=internet
mmppw
4
y
127.0.0.1:99999
127.0.0.1:10143
y
1143
y
127.0.0.1:10110
n
n
y
MMP %h ready
n
y
uid
n
y
vdmap.cfg
y
siroe
127.0.0.1
siroe.com
n
y
+
n
n
y
y
127.0.0.1:10993
y
n
ROOT/certs/mmp.crt
ROOT/certs/mmp.key
n
n
y
y
y
`

func writeAnswers(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "answers.properties")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAnswersIMAPPOP: --answers creates an IMAP+POP instance that loads
// without errors, tests LDAP against slapd, and matches the golden files;
// the plain prompts fed the same answers write the same bytes.
func TestAnswersIMAPPOP(t *testing.T) {
	ldap := slapd.Start(t)
	root := newRoot(t)
	dir := filepath.Join(root, "mmp1")

	code, out := runSetup(t, "", "--answers", writeAnswers(t, fill(imapPopAnswers, root, ldap.Port)))
	if code != ExitOK {
		t.Fatalf("mmp-setup --answers = %d, want %d; output:\n%s", code, ExitOK, out)
	}
	for _, want := range []string{"LDAP test passed", `bound as "cn=mmp,o=internet"`, "checks clean", "start-msg mmp mmp1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	mustLoad(t, dir)
	checkGolden(t, dir, "imap-pop", root, ldap.Port)
	fromAnswers := snapshot(t, dir)

	os.RemoveAll(dir)
	code, out = runSetup(t, fill(imapPopLines, root, ldap.Port))
	if code != ExitOK {
		t.Fatalf("mmp-setup < lines = %d, want %d; output:\n%s", code, ExitOK, out)
	}
	if want := "Which port [143]: 127.0.0.1:99999\n  entry 1 \"127.0.0.1:99999\": bad port \"99999\": want 1-65535\nWhich port [143]: 127.0.0.1:10143\n"; !strings.Contains(out, want) {
		t.Errorf("invalid port not reported and asked again; output lacks\n%s\nin:\n%s", want, out)
	}
	sameFiles(t, "plain prompts vs --answers", snapshot(t, dir), fromAnswers)
}

// TestAnswersErrors: answers that cannot be used stop mmp-setup before it
// writes anything, with the documented exit status.
func TestAnswersErrors(t *testing.T) {
	root := newRoot(t)
	base := "root = " + root + "\ninstance = x\nldap.test = n\n"
	for _, tc := range []struct {
		name, answers string
		code          int
		msg           string
	}{
		{"unknown key", base + "ldap.hots = h\n", ExitUsage, "did you mean ldap.host?"},
		{"bad port", base + "imap.port = 70000\n", ExitUsage, "imap.port"},
		{"bad DN", base + "ldap.basedn = internet\n", ExitUsage, "ldap.basedn"},
		{"password left out", base + "bind.dn = cn=mmp,o=internet\n", ExitUsage, "bind.password: an answer is needed"},
		{"port clash", base + "imap.port = 110\n", ExitUsage, "clashes"},
		{"declined", base + "confirm = n\n", ExitCancelled, "cancelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runSetup(t, "", "--answers", writeAnswers(t, tc.answers))
			if code != tc.code || !strings.Contains(out, tc.msg) {
				t.Errorf("mmp-setup = %d, want %d with %q; output:\n%s", code, tc.code, tc.msg, out)
			}
			if _, err := os.Stat(filepath.Join(root, "x")); err == nil {
				t.Errorf("instance directory written")
			}
		})
	}
}

// TestPlainEOF: standard input that ends early is a clear error.
func TestPlainEOF(t *testing.T) {
	root := newRoot(t)
	code, out := runSetup(t, "nobody\n"+root+"\n")
	if code != ExitUsage || !strings.Contains(out, "standard input ended before \"Name of the new instance\" was answered") {
		t.Errorf("mmp-setup = %d, want %d; output:\n%s", code, ExitUsage, out)
	}
}

// TestLDAPTest: the LDAP test passes against slapd and reports a clear
// failure against a closed port; a failure in an answers file cancels
// unless ldap.ignore says to write anyway.
func TestLDAPTest(t *testing.T) {
	ldap := slapd.Start(t)
	root := newRoot(t)
	answers := func(host, extra string) string {
		return fmt.Sprintf("root = %s\ninstance = t\nservice = imap\nldap.host = %s\nbind.dn = %s\nbind.password = %s\n%s",
			root, host, ldap.ProxyDN, ldap.ProxyPass, extra)
	}
	host := fmt.Sprintf("127.0.0.1:%d", ldap.Port)

	code, out := runSetup(t, "", "--answers", writeAnswers(t, answers(host, "")))
	if code != ExitOK || !strings.Contains(out, "LDAP test passed: ldap://"+host+" answered") {
		t.Errorf("against slapd: exit %d; output:\n%s", code, out)
	}
	os.RemoveAll(filepath.Join(root, "t"))

	closed := closedPort(t)
	code, out = runSetup(t, "", "--answers", writeAnswers(t, answers(closed, "")))
	if code != ExitCancelled || !strings.Contains(out, "LDAP test failed") || !strings.Contains(out, "connection refused") {
		t.Errorf("against a closed port: exit %d, want %d; output:\n%s", code, ExitCancelled, out)
	}
	if _, err := os.Stat(filepath.Join(root, "t")); err == nil {
		t.Errorf("instance written although the LDAP test failed")
	}

	code, out = runSetup(t, "", "--answers", writeAnswers(t, answers(closed, "ldap.ignore = y\n")))
	if code != ExitOK || !strings.Contains(out, "LDAP test failed") {
		t.Errorf("closed port with ldap.ignore: exit %d; output:\n%s", code, out)
	}
	os.RemoveAll(filepath.Join(root, "t"))

	code, out = runSetup(t, "", "--answers", writeAnswers(t, answers(host, "bind.password = wrong\n")))
	if code != ExitCancelled || !strings.Contains(out, "Invalid Credentials") {
		t.Errorf("wrong password: exit %d; output:\n%s", code, out)
	}
	code, out = runSetup(t, "", "--answers", writeAnswers(t, answers(host, "ldap.basedn = o=nowhere\n")))
	if code != ExitCancelled || !strings.Contains(out, `base DN "o=nowhere" does not exist`) {
		t.Errorf("missing base DN: exit %d; output:\n%s", code, out)
	}
}

// closedPort returns host:port of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// copyDir copies a testdata instance into place.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	for name, data := range snapshot(t, from) {
		p := filepath.Join(to, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// TestModifyKeepsHandEdits changes an instance whose files were edited by
// hand: comments, blank lines, settings mmp-setup does not ask about,
// module paths in ServiceList and the administrator's spelling of
// unchanged values all survive; only the answered values change
// (testdata/modify/after). Answering nothing new changes nothing.
func TestModifyKeepsHandEdits(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "siroe")
	copyDir(t, filepath.Join("testdata", "modify", "before"), dir)
	mustLoad(t, dir)
	before := snapshot(t, dir)

	code, out := runSetup(t, "", "--answers", writeAnswers(t, "root = "+root+"\nmode = modify\ninstance = siroe\nldap.test = n\n"))
	if code != ExitOK || !strings.Contains(out, "Nothing to change") {
		t.Fatalf("unchanged answers: exit %d; output:\n%s", code, out)
	}
	sameFiles(t, "unchanged answers", snapshot(t, dir), before)

	code, out = runSetup(t, "", "--answers", writeAnswers(t, `root = `+root+`
mode = modify
instance = siroe
loglevel = 3
bind.password = newsecret
imap.port = 127.0.0.1:1143
pop.storeport = 1110
banner = Siroe mail proxy
ldap.test = n
`))
	if code != ExitOK {
		t.Fatalf("mmp-setup modify = %d; output:\n%s", code, out)
	}
	mustLoad(t, dir)
	checkGolden(t, dir, filepath.Join("modify", "after"), root, 0)
}

// TestN4 writes a Netscape 4.x instance (--n4): ImapMMP.config and
// PopMMP.config in Netscape names and the start scripts, which the
// Netscape front ends load without errors; changing it later edits the
// .config files in place.
func TestN4(t *testing.T) {
	root := newRoot(t)
	dir := filepath.Join(root, "mplex1")
	code, out := runSetup(t, "", "--n4", "--answers", writeAnswers(t, fill(`root = ROOT
instance = mplex1
ldap.host = ldap.airius.com
ldap.basedn = o=airius.com
bind.dn = uid=mmp,ou=People,o=airius.com
bind.password = it's secret
imap.port = 127.0.0.1:10143
capability = IMAP4 IMAP4rev1 AUTH=LOGIN AUTH=PLAIN X-NETSCAPE
replay.attr = mailAlternateAddress
mailhost = mailHost,mailRoutingHost
imap.ssl = y
ssl.cert = ROOT/certs/mmp.crt
ssl.key = ROOT/certs/mmp.key
ldap.test = n
`, root, 0)))
	if code != ExitOK {
		t.Fatalf("mmp-setup --n4 = %d; output:\n%s", code, out)
	}
	for _, pr := range protocols[:2] {
		_, ps := config.LoadFrontEnd(config.FrontEnd{Protocol: pr.where, File: filepath.Join(dir, pr.n4+".config")})
		if err := ps.Err(config.Fatal); err != nil {
			t.Errorf("%s.config: %v", pr.n4, err)
		}
		if fi, err := os.Stat(filepath.Join(dir, pr.n4)); err != nil || fi.Mode().Perm()&0o100 == 0 {
			t.Errorf("start script %s missing or not executable: %v", pr.n4, err)
		}
	}
	if !strings.Contains(out, filepath.Join(dir, "ImapMMP")) {
		t.Errorf("no start instructions:\n%s", out)
	}
	checkGolden(t, dir, "n4", root, 0)

	// Change it: another log level, no more SSL; the instance keeps its
	// Netscape files without --n4.
	code, out = runSetup(t, "", "--answers", writeAnswers(t, "root = "+root+"\nmode = modify\ninstance = mplex1\nloglevel = 4\nimap.ssl = n\nldap.test = n\n"))
	if code != ExitOK {
		t.Fatalf("modify = %d; output:\n%s", code, out)
	}
	checkGolden(t, dir, "n4-modified", root, 0)
}

// TestRoundAgain: n at the summary goes through the prompts again with
// the previous answers as defaults, so Enter keeps them.
func TestRoundAgain(t *testing.T) {
	root := newRoot(t)
	// user, root, instance, service, LDAP host and base DN, then 17
	// questions taking their defaults; n at the summary; 23 Enters for the
	// second round, y to accept, n to the LDAP test.
	first := "\n" + root + "\nagain\n1\nldap.example.com\no=example\n" + strings.Repeat("\n", 17)
	lines := first + "n\n" + strings.Repeat("\n", 23) + "y\nn\n"
	code, out := runSetup(t, lines)
	if code != ExitOK {
		t.Fatalf("exit %d; output:\n%s", code, out)
	}
	if !strings.Contains(out, "LDAP Host [ldap.example.com]: \n") {
		t.Errorf("second round does not offer the first round's answer:\n%s", out)
	}
	data, _ := os.ReadFile(filepath.Join(root, "again", "ImapProxyAService.cfg"))
	if !strings.Contains(string(data), "default:LdapUrl ldap://ldap.example.com:389/o=example\n") {
		t.Errorf("ImapProxyAService.cfg:\n%s", data)
	}
}

// TestWriteAnswers records the answers of a plain run; replaying them
// writes the same files. Passwords are recorded only with
// --with-passwords.
func TestWriteAnswers(t *testing.T) {
	root := newRoot(t)
	dir := filepath.Join(root, "mmp1")
	rec := filepath.Join(t.TempDir(), "rec.properties")
	lines := fill(imapPopLines, root, 1)
	lines = strings.Replace(lines, "\ny\ny\ny\n", "\ny\ny\nn\n", 1) // the last three: confirm, test LDAP: no
	lines = strings.TrimSuffix(lines, "y\n")
	code, out := runSetup(t, lines, "--write-answers", rec)
	if code != ExitOK {
		t.Fatalf("exit %d; output:\n%s", code, out)
	}
	written := snapshot(t, dir)
	data, _ := os.ReadFile(rec)
	for _, want := range []string{"ldap.host = 127.0.0.1:1\n", "# Bind DN\nbind.dn = cn=mmp,o=internet\n", "banner = MMP %h ready\n", "bind.password"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("recorded answers lack %q:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), "mmppw") {
		t.Errorf("password recorded without --with-passwords:\n%s", data)
	}

	os.RemoveAll(dir)
	code, out = runSetup(t, lines, "--write-answers", rec, "--with-passwords")
	if code != ExitOK {
		t.Fatalf("exit %d; output:\n%s", code, out)
	}
	data, _ = os.ReadFile(rec)
	if !strings.Contains(string(data), "bind.password = mmppw\n") {
		t.Errorf("password not recorded with --with-passwords:\n%s", data)
	}
	os.RemoveAll(dir)
	code, out = runSetup(t, "", "--answers", rec)
	if code != ExitOK {
		t.Fatalf("replay: exit %d; output:\n%s", code, out)
	}
	sameFiles(t, "replayed answers", snapshot(t, dir), written)
}

// TestUsageDocumentsKeys keeps the answer-key table of the package
// documentation and of --help in step with the questions.
func TestUsageDocumentsKeys(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(AnswerKeys(), "\n"), "\n") {
		want.WriteString("//\t" + strings.TrimPrefix(l, "  ") + "\n")
	}
	if !strings.Contains(string(doc), want.String()) {
		t.Errorf("doc.go lacks the answer-key table; put this in it:\n%s", want.String())
	}
	code, out := runSetup(t, "", "--help")
	if code != ExitOK || !strings.Contains(out, AnswerKeys()) {
		t.Errorf("--help = %d without the answer keys:\n%s", code, out)
	}
	if code, out := runSetup(t, "", "--with-passwords"); code != ExitUsage {
		t.Errorf("--with-passwords alone = %d, want %d: %s", code, ExitUsage, out)
	}
	if code, out := runSetup(t, "", "extra"); code != ExitUsage {
		t.Errorf("an argument = %d, want %d: %s", code, ExitUsage, out)
	}
}

// TestAllServices sets up IMAP, POP3 and the SMTP submission proxy with
// every optional part: SSL on all three with an encrypted key, certificate
// login with a new certmap.conf, a spoof message, custom CAPABILITY,
// search string, mailhost attributes and delimiters. The instance loads
// without errors and matches testdata/all.
func TestAllServices(t *testing.T) {
	root := newRoot(t)
	dir := filepath.Join(root, "edge")
	os.WriteFile(filepath.Join(root, "certs", "clients.pem"), []byte("placeholder\n"), 0o600)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "spoof.txt"), []byte("Subject: down\n\nBack soon.\n.\n"), 0o644)
	code, out := runSetup(t, "", "--answers", writeAnswers(t, fill(`root = ROOT
instance = edge
user = mailsrv
service = 4
smtp.relays = relay1.example.com:485 relay2.example.com
smtp.password = A_Password
smtp.channel = tcp_intranet
ldap.host = ldap1.example.com ldap2.example.com:1389
ldap.basedn = o=internet
logdir = logs
smtp.port = 127.0.0.1:10587
capability = IMAP4rev1 LITERAL+ NAMESPACE
search = (|(uid=%s)(mail=%s))
mailhost = mailHost mailRoutingHost
delims = @%+
canonical = %
spoof.file = spoof.txt
alert = The mail store is being upgraded
imap.ssl = y
pop.ssl = y
smtp.ssl = y
ssl.cert = ROOT/certs/mmp.crt
ssl.key = ROOT/certs/mmp.key
ssl.keypass = key secret
certlogin.ca = ROOT/certs/clients.pem
storeadmin.password = store secret
certmap.filter = e=mail
preauth = y
ldap.test = n
`, root, 0)))
	if code != ExitOK {
		t.Fatalf("mmp-setup = %d; output:\n%s", code, out)
	}
	mustLoad(t, dir)
	if fi, err := os.Stat(filepath.Join(dir, "sslpassword.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sslpassword.conf missing or readable by others: %v", err)
	}
	checkGolden(t, dir, "all", root, 0)
}

// TestModifyPlain changes an instance through the plain prompts: the
// instances under the root are listed, the existing one is chosen by
// number, its run-as user is offered again, and pressing Enter everywhere
// keeps every file as it was.
func TestModifyPlain(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "siroe")
	copyDir(t, filepath.Join("testdata", "modify", "before"), dir)
	before := snapshot(t, dir)
	// user, root, 2 = change, 1 = siroe, then 35 questions answered with
	// Enter, y to the summary and n to the LDAP test.
	lines := "\n" + root + "\n2\n\n" + strings.Repeat("\n", 35) + "y\nn\n"
	code, out := runSetup(t, lines)
	if code != ExitOK {
		t.Fatalf("exit %d; output:\n%s", code, out)
	}
	for _, want := range []string{
		"Instances found in " + root + ": siroe. Create a new instance or change an existing one [1]: 2\n",
		"  1 - siroe (Sun 6 style)\nInstance to change [1]: \n",
		"Instance siroe runs as mailsrv. User name the Multiplexor should run as [mailsrv]: \n",
		"LDAP Host [phonebook.siroe.com:389]: \n",
		"What's the password for \"cn=Directory Manager\" [Enter keeps the current one]: \n",
		"Nothing to change",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	sameFiles(t, "Enter everywhere", snapshot(t, dir), before)
}
