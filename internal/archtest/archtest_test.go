// Package archtest keeps the import layers of docs/architecture.md: each
// package imports only packages of lower layers (or the few same-layer
// imports listed with their reason), each third-party library is
// imported by the one package that owns it, and test fixtures are never
// imported by production code. It is a test only, like Go's own
// go/build deps_test.go.
package archtest

import (
	"encoding/json"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/openmmp/mmp/"

// layers is the layer table of docs/architecture.md, lowest first.
var layers = [][]string{
	{"param", "cfgfmt", "internal/wire", "who"},
	{"legacy", "config"},
	{"account", "logging", "metrics", "access", "tlsconf", "directory", "sasl", "fleet"},
	{"proxy", "proxy/splice", "authsvc"},
	{"imapproxy", "popproxy", "smtpproxy"},
	{"daemon", "instance", "setup"},
	{"cmd/*", "internal/mangen", "internal/gendocs", "bench", "bench/*"},
}

// sameLayer are the imports within one layer, each with its reason.
var sameLayer = map[string]string{
	"param -> cfgfmt":       "the table binds each parameter to the grammar that parses it",
	"directory -> account":  "account is the leaf the directory implements",
	"directory -> logging":  "the directory's own log",
	"sasl -> logging":       "credentials carry passwords as logging.Secret",
	"proxy -> proxy/splice": "the pipe after login is the proxy's own subpackage",
	"internal/mangen -> *":  "renders the cobra trees of daemon, instance and setup into man pages",
	"internal/gendocs -> *": "runs mangen",
}

// owners are the only importers of each third-party library (style
// guide, example 11). x/sys and x/term are close to the standard library
// and not listed.
var owners = map[string][]string{
	"github.com/go-ldap/ldap/v3":          {"directory"},
	"github.com/magiconair/properties":    {"cfgfmt"},
	"github.com/AlecAivazis/survey/v2":    {"setup"},
	"github.com/spf13/cobra":              {"daemon", "instance", "setup", "internal/mangen"},
	"github.com/prometheus/client_golang": {"metrics"},
	"github.com/prometheus/client_model":  {"metrics"},
	"github.com/redis/go-redis/v9":        {"fleet"},
}

// forbidden are imports the package contracts rule out even where the
// layers would allow them.
var forbidden = map[string][]string{
	"access":    {"net"},
	"imapproxy": {"directory", "cfgfmt", "legacy"},
	"popproxy":  {"directory", "cfgfmt", "legacy"},
	"smtpproxy": {"directory", "cfgfmt", "legacy"},
	"proxy":     {"directory", "legacy"},
	"directory": {"proxy"},
}

// testOnly are imported by _test.go files only.
var testOnly = []string{"internal/testenv", "internal/testenv/*", "proxy/proxytest"}

type pkg struct {
	ImportPath string
	Imports    []string
}

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// layerOf is the layer of a package of the module, -1 if none.
func layerOf(name string) int {
	for i, l := range layers {
		for _, p := range l {
			if ok, _ := path.Match(p, name); ok || p == name {
				return i
			}
		}
	}
	return -1
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok || p == name {
			return true
		}
	}
	return false
}

func TestImportLayers(t *testing.T) {
	pkgs := list(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		if matchAny(testOnly, name) || strings.HasPrefix(name, "internal/archtest") {
			continue
		}
		from := layerOf(name)
		if from < 0 {
			t.Errorf("%s is in no layer of the table: add it to docs/architecture.md and here", name)
			continue
		}
		for _, imp := range p.Imports {
			if lib, ok := thirdParty(imp); ok {
				if o, listed := owners[lib]; listed && !matchAny(o, name) {
					t.Errorf("%s imports %s, which only %v may", name, imp, o)
				}
				continue
			}
			if !strings.HasPrefix(imp, module) {
				if matchAny(forbidden[name], imp) {
					t.Errorf("%s imports %s, which its contract rules out", name, imp)
				}
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if matchAny(testOnly, dep) {
				t.Errorf("%s imports the test fixture %s", name, dep)
				continue
			}
			if matchAny(forbidden[name], dep) {
				t.Errorf("%s imports %s, which its contract rules out", name, dep)
			}
			to := layerOf(dep)
			switch {
			case to < from:
			case to == from && (sameLayer[name+" -> "+dep] != "" || sameLayer[name+" -> *"] != ""):
			case to > from && sameLayer[name+" -> *"] != "":
			default:
				t.Errorf("%s (layer %d) imports %s (layer %d)", name, from, dep, to)
			}
		}
	}
}

// thirdParty gives the module path of an import outside the standard
// library and this module.
func thirdParty(imp string) (string, bool) {
	first, _, _ := strings.Cut(imp, "/")
	if !strings.Contains(first, ".") || strings.HasPrefix(imp, module) {
		return "", false
	}
	for lib := range owners {
		if imp == lib || strings.HasPrefix(imp, lib+"/") {
			return lib, true
		}
	}
	return imp, true
}
