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
