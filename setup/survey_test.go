//go:build linux

package setup

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"
	pseudotty "github.com/creack/pty"
	"github.com/hinshun/vt10x"
	"golang.org/x/sys/unix"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// surveyPrompts are the texts the survey prompts show, one per line of
// imapPopLines, so that the terminal is given exactly the answers the
// plain prompts read. A menu is answered with Enter (its default is the
// answer imapPopLines gives by number), and the invalid port's second
// answer follows survey's error message.
var surveyPrompts = []string{
	"User name the Multiplexor should run as",
	"Installation directory (MMPRoot)",
	"Name of the new instance",
	"Which kind of mail service",
	"LDAP Host",
	"Base DN",
	"IMAP4/POP3 MMP LogDir",
	"Log Level",
	"Should the MMP bind to LDAP as someone in particular",
	"What user should the MMP authenticate as",
	`What's the password for "cn=mmp,o=internet"`,
	"Number of Threads",
	"Should the IMAP4 MMP listen on a non-default port",
	"Which port",
	"Sorry, your reply was invalid: entry 1",
	"Do your main IMAP4 servers listen on non-default ports",
	"Which port",
	"Should the POP3 MMP listen on a non-default port",
	"Which port",
	"Do your main POP3 servers listen on non-default ports",
	"override the IMAP4 MMP's CAPABILITY response",
	"override the MMP's banner",
	"Please type in the new banner",
	"override the MMP's LDAP search string",
	"use a particular attribute for auth replay",
	"Please type in attribute",
	"non-default attribute for the mailhost",
	"Should this MMP do virtual domain mapping",
	"location of the mapping file",
	"add a virtual domain to vdmap.cfg",
	"Name of the virtual domain entry",
	"Which server IP address",
	"Which domain should be added",
	"specify a list of virtual domain delimiters",
	"specify a canonical virtual domain delimiter",
	"Please type in the new delimiter",
	`provide a "spoof" message for POP3`,
	"override the Server Down Alert",
	"Should the IMAP4 MMP do SSL",
	"Should the IMAP4 MMP listen for SSL on a non-default port",
	"Which port?",
	"Should the POP3 MMP do SSL",
	"Should the POP3 MMP listen for SSL on a non-default port",
	"PEM certificate file",
	"PEM private key file",
	"Is the private key protected by a password",
	"accept SSL client certificates for login",
	"(PreAuth)",
	"Is this information correct",
	"test the LDAP settings now",
}

// TestSurveyOnTerminal drives the survey prompts on a pseudo-terminal,
// with a vt10x emulator answering survey's terminal queries, and checks
// that they write the same bytes as --answers.
func TestSurveyOnTerminal(t *testing.T) {
	ldap := slapd.Start(t)
	root := newRoot(t)
	dir := filepath.Join(root, "mmp1")
	if code, out := runSetup(t, "", "--answers", writeAnswers(t, fill(imapPopAnswers, root, ldap.Port))); code != ExitOK {
		t.Fatalf("mmp-setup --answers = %d; output:\n%s", code, out)
	}
	fromAnswers := snapshot(t, dir)
	os.RemoveAll(dir)

	lines := strings.Split(strings.TrimSuffix(fill(imapPopLines, root, ldap.Port), "\n"), "\n")
	if len(lines) != len(surveyPrompts) {
		t.Fatalf("%d answer lines for %d prompts", len(lines), len(surveyPrompts))
	}

	pty, tty, err := pseudotty.Open()
	if err != nil {
		testenv.Unavailable(t, fmt.Sprintf("no pseudo-terminal: %v", err))
	}
	term := vt10x.New(vt10x.WithWriter(tty))
	var seen syncBuffer
	c, err := expect.NewConsole(expect.WithStdin(pty), expect.WithStdout(term, &seen),
		expect.WithCloser(pty, tty), expect.WithDefaultTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	done := make(chan int, 1)
	go func() {
		done <- MainIO(nil, IO{In: c.Tty(), Out: c.Tty(), Err: c.Tty()})
	}()
	for i, prompt := range surveyPrompts {
		if _, err := c.ExpectString(prompt); err != nil {
			c.Tty().Close()
			t.Fatalf("prompt %d %q not shown: %v\nscreen:\n%s", i+1, prompt, err, seen.String())
		}
		// Type only once survey has the terminal in raw mode, as a
		// person would; type-ahead would be echoed by the terminal
		// itself, hidden password or not.
		waitRaw(t, c.Tty())
		answer := lines[i]
		if prompt == "Which kind of mail service" {
			answer = "" // Enter picks the default, imap+pop, which line 4 names as 3
		}
		c.SendLine(answer)
	}
	if _, err := c.ExpectString("To start the Multiplexor"); err != nil {
		t.Fatalf("no closing message: %v\n%s", err, seen.String())
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("mmp-setup did not finish")
	}
	c.Tty().Close()
	c.ExpectEOF()
	if code != ExitOK {
		t.Fatalf("mmp-setup on a terminal = %d; screen:\n%s", code, seen.String())
	}
	if strings.Contains(seen.String(), "mmppw") {
		i := strings.Index(seen.String(), "mmppw")
		t.Errorf("the bind password was shown on the terminal: %q", seen.String()[max(0, i-300):i+50])
	}
	if !strings.Contains(seen.String(), "LDAP test passed") {
		t.Errorf("no LDAP test result on the terminal")
	}
	sameFiles(t, "survey vs --answers", snapshot(t, dir), fromAnswers)
}

// waitRaw waits until the terminal no longer echoes input, which is how
// survey reads an answer.
func waitRaw(t *testing.T, tty *os.File) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatalf("reading the terminal mode: %v", err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("survey never put the terminal in raw mode")
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the console's reader and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSurveyInterrupt: Ctrl-C at a prompt cancels with ExitCancelled and
// writes nothing.
func TestSurveyInterrupt(t *testing.T) {
	root := newRoot(t)
	pty, tty, err := pseudotty.Open()
	if err != nil {
		testenv.Unavailable(t, fmt.Sprintf("no pseudo-terminal: %v", err))
	}
	term := vt10x.New(vt10x.WithWriter(tty))
	c, err := expect.NewConsole(expect.WithStdin(pty), expect.WithStdout(term),
		expect.WithCloser(pty, tty), expect.WithDefaultTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan int, 1)
	go func() { done <- MainIO(nil, IO{In: c.Tty(), Out: c.Tty(), Err: c.Tty()}) }()
	for _, step := range []struct{ prompt, send string }{
		{"User name the Multiplexor should run as", "\n"},
		{"Installation directory", root + "\n"},
		{"Name of the new instance", "\x03"},
	} {
		if _, err := c.ExpectString(step.prompt); err != nil {
			c.Tty().Close()
			t.Fatalf("prompt %q not shown: %v", step.prompt, err)
		}
		waitRaw(t, c.Tty())
		c.Send(step.send)
	}
	if _, err := c.ExpectString("cancelled; nothing was written"); err != nil {
		t.Errorf("no cancel message: %v", err)
	}
	select {
	case code := <-done:
		if code != ExitCancelled {
			t.Errorf("mmp-setup after Ctrl-C = %d, want %d", code, ExitCancelled)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("mmp-setup did not stop")
	}
	c.Tty().Close()
	if _, err := os.Stat(filepath.Join(root, "testhost")); err == nil {
		t.Error("an instance was written")
	}
}
