package mangen

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmmp/mmp/param"
)

// The checked-in man pages are exactly what the table produces.
func TestManPagesUpToDate(t *testing.T) {
	for name, text := range Pages() {
		got, err := os.ReadFile(filepath.Join("..", "..", "docs", "man", name))
		if err != nil || string(got) != text {
			t.Errorf("docs/man/%s is not up to date; run: go run ./internal/gendocs", name)
		}
	}
}

// Every parameter appears in the page of each file it belongs in.
func TestEveryParameterDocumented(t *testing.T) {
	pages := Pages()
	for _, p := range param.All() {
		for _, ctx := range []param.Where{param.AService, param.IMAP, param.POP, param.SMTP} {
			if p.Where&ctx != 0 && !strings.Contains(pages[ctx.FileName()+".5"], `\fB`+esc(p.Name)+`\fR`) {
				t.Errorf("%s(5) does not document %s", ctx.FileName(), p.Name)
			}
		}
		if p.Where&param.VDMap != 0 && !strings.Contains(pages["vdmap.5"], `\fB`+esc(p.Name)+`\fR`) {
			t.Errorf("vdmap(5) does not document %s", p.Name)
		}
	}
}

// Every page renders without a warning. mandoc's lint is stricter than
// groff; CI installs it, a developer machine may have only groff.
func TestManPagesRenderCleanly(t *testing.T) {
	for name, text := range Pages() {
		if mandoc, err := exec.LookPath("mandoc"); err == nil {
			cmd := exec.Command(mandoc, "-T", "lint", "-W", "warning")
			cmd.Stdin = strings.NewReader(text)
			if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("mandoc -T lint %s: %v\n%s", name, err, out)
			}
		}
		groff, err := exec.LookPath("groff")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("groff is missing (Debian package groff)")
			}
			t.Skip("groff not installed")
		}
		cmd := exec.Command(groff, "-man", "-ww", "-z", "-rCHECKSTYLE=3")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("groff -ww %s: %v\n%s", name, err, out)
		}
	}
}

// Each front end's page describes that program: the SMTP proxy hands
// sessions to relays and logs in to no store; install prints the
// program's own *MMP.config lines; every option is listed once.
func TestFrontEndPagesDescribeTheirProgram(t *testing.T) {
	pages := Pages()
	for _, tt := range []struct {
		name, config string
		want, avoid  []string
	}{
		{"ImapProxy", "ImapMMP.config", []string{"IMAP4 clients", "logs in to that store"}, []string{"SmtpRelays"}},
		{"PopProxy", "PopMMP.config", []string{"POP3 clients", "logs in to that store", "\\-p 10.0.0.5:110"}, []string{"\\-p 10.0.0.5:143", "SmtpRelays"}},
		{"SmtpProxy", "SmtpMMP.config", []string{"SMTP submission clients", "logs in to no store", "one of the SmtpRelays", "\\-p 10.0.0.5:587"},
			[]string{"logs in to that store", "mail store", "\\-p 10.0.0.5:143"}},
	} {
		page := pages[tt.name+".8"]
		for _, w := range append(tt.want, "printed as "+tt.config+" lines") {
			if !strings.Contains(page, w) {
				t.Errorf("%s.8 lacks %q", tt.name, w)
			}
		}
		for _, a := range tt.avoid {
			if strings.Contains(page, a) {
				t.Errorf("%s.8 says %q, which is another program's", tt.name, a)
			}
		}
		seen := map[string]int{}
		lines := strings.Split(page, "\n")
		for i, l := range lines {
			if l == ".TP" && i+1 < len(lines) && strings.HasPrefix(lines[i+1], `\fB\-`) {
				seen[strings.Fields(lines[i+1])[0]]++
			}
		}
		for opt, n := range seen {
			if n > 1 {
				t.Errorf("%s.8 lists option %s %d times", tt.name, opt, n)
			}
		}
		if seen[`\fB\-h\fR`] != 1 {
			t.Errorf("%s.8 lists -h %d times, want once", tt.name, seen[`\fB\-h\fR`])
		}
	}
}
