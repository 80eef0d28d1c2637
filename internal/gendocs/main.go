// Command gendocs writes the files generated from the parameter table: the
// *-def.cfg templates in templates/ and the man pages in docs/man/. Run it
// from the repository root after changing the table:
//
//	go run ./internal/gendocs
//
// The tests fail when a checked-in file differs from what this writes.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/internal/mangen"
	"github.com/openmmp/mmp/param"
)

func main() {
	files := map[string][]byte{}
	for _, ctx := range []param.Where{param.AService, param.IMAP, param.POP, param.SMTP} {
		files[filepath.Join("templates", strings.TrimSuffix(ctx.FileName(), ".cfg")+"-def.cfg")] = config.Template(ctx)
	}
	for name, text := range mangen.Pages() {
		files[filepath.Join("docs", "man", name)] = []byte(text)
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(name, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	fmt.Printf("wrote %d files\n", len(files))
}
