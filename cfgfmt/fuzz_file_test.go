package cfgfmt

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// The fuzz targets check the promises the file models make to their
// callers, for any input at all: no panic, Bytes() gives back the input,
// line numbers are right, and an edit either fails leaving the file
// untouched or changes one line so that a new parse finds the value.
// They are seeded from the golden files (f.Add) and from the committed
// corpus in testdata/fuzz/<FuzzName>/.

func addGoldenSeeds(f *testing.F, syntax string) {
	for _, name := range goldenFiles(f, syntax) {
		f.Add(readGolden(f, name), "new value")
	}
	f.Add([]byte(""), "")
	f.Add([]byte("default:A \"b\"\r\n#default:C d"), `"q"`)
}

func FuzzParseCfg(f *testing.F) {
	addGoldenSeeds(f, "")
	f.Fuzz(func(t *testing.T, data []byte, value string) { fuzzFile(t, "", data, value) })
}

func FuzzParseVdmap(f *testing.F) {
	addGoldenSeeds(f, "vdmap")
	f.Fuzz(func(t *testing.T, data []byte, value string) { fuzzFile(t, "vdmap", data, value) })
}

func FuzzParseCertmap(f *testing.F) {
	addGoldenSeeds(f, "certmap")
	f.Fuzz(func(t *testing.T, data []byte, value string) { fuzzFile(t, "certmap", data, value) })
}

type fuzzTarget struct {
	prefix, name string
	mustWork     bool // Set("v1") cannot legitimately fail
}

func fuzzFile(t *testing.T, syntax string, data []byte, value string) {
	f, errs := Parse("fuzz", data, syntax)
	if !bytes.Equal(f.Bytes(), data) {
		t.Fatalf("Bytes() = %q, want the input %q", f.Bytes(), data)
	}
	checkFileInvariants(t, f, errs)

	// Choose what to edit: live settings (first and last), the last
	// commented-out setting, and a new name in the first block or section.
	var targets []fuzzTarget
	settings := f.Settings()
	if n := len(settings); n > 0 {
		targets = append(targets, fuzzTarget{settings[0].Prefix, settings[0].Name, true},
			fuzzTarget{settings[n-1].Prefix, settings[n-1].Name, true})
	}
	for i := len(f.Lines) - 1; i >= 0; i-- {
		if l := f.Lines[i]; l.Commented {
			targets = append(targets, fuzzTarget{l.Prefix, l.Name, false})
			break
		}
	}
	if syntax == "" {
		targets = append(targets, fuzzTarget{"default", "FuzzNew", true})
	} else if hs := f.Headers(); len(hs) > 0 {
		targets = append(targets, fuzzTarget{hs[0].Label, "FuzzNew", true})
	}

	for _, tg := range targets {
		for _, v := range []string{"v1", value} {
			g, _ := Parse("fuzz", data, syntax)
			before := lineTexts(g)
			l, err := g.Set(tg.prefix, tg.name, v)
			if err != nil {
				if v == "v1" && tg.mustWork {
					t.Fatalf("Set(%q, %q, v1) = %v", tg.prefix, tg.name, err)
				}
				if !bytes.Equal(g.Bytes(), data) {
					t.Fatalf("failed Set(%q, %q, %q) changed the file", tg.prefix, tg.name, v)
				}
				continue
			}
			checkSetResult(t, syntax, before, g, l, tg.prefix, tg.name, v, len(errs))
		}
	}

	// Delete removes exactly the live lines of a name.
	if len(settings) > 0 {
		g, _ := Parse("fuzz", data, syntax)
		p, n := settings[0].Prefix, settings[0].Name
		count := 0
		for _, l := range g.Lines {
			if l.Kind == Setting && l.matches(p, n) {
				count++
			}
		}
		if !g.Delete(p, n) || g.Lookup(p, n) != nil || len(g.Lines) != len(f.Lines)-count {
			t.Fatalf("Delete(%q, %q) left %d lines of %d, Lookup = %v", p, n, len(g.Lines), len(f.Lines), g.Lookup(p, n))
		}
		h, _ := Parse("fuzz", g.Bytes(), syntax)
		if h.Lookup(p, n) != nil {
			t.Fatalf("after Delete(%q, %q), re-Parse still finds it", p, n)
		}
	}

	// A new block can always be added and filled.
	if syntax != "" {
		g, _ := Parse("fuzz", data, syntax)
		if _, err := g.AddHeader(syntax, "fuzzblock", "192.0.2.1"); err != nil {
			if g.header("fuzzblock") < 0 {
				t.Fatalf("AddHeader: %v", err)
			}
			return
		}
		if _, err := g.Set("fuzzblock", "P", value); err != nil {
			return // the value itself may be unwritable
		}
		h, _ := Parse("fuzz", g.Bytes(), syntax)
		if l := h.Lookup("fuzzblock", "P"); l == nil || l.Value != value {
			t.Fatalf("after AddHeader and Set, Lookup = %+v, want %q", l, value)
		}
	}
}

func checkFileInvariants(t *testing.T, f *File, errs []error) {
	t.Helper()
	bad := 0
	for i, l := range f.Lines {
		if l.Num != i+1 {
			t.Fatalf("Lines[%d].Num = %d", i, l.Num)
		}
		if l.EOL != "\n" && l.EOL != "\r\n" && (l.EOL != "" || i != len(f.Lines)-1) {
			t.Fatalf("line %d has EOL %q", l.Num, l.EOL)
		}
		if strings.Contains(l.Raw, "\n") {
			t.Fatalf("line %d Raw contains a newline", l.Num)
		}
		if l.Kind == Bad {
			bad++
		}
		if l.Kind == Setting && (l.Prefix == "" || l.Name == "" || strings.ContainsAny(l.Prefix+l.Name, " \t")) {
			t.Fatalf("line %d: Setting with prefix %q name %q", l.Num, l.Prefix, l.Name)
		}
	}
	block := 0
	for _, err := range errs {
		var e *Error
		if !errors.As(err, &e) || e.File != "fuzz" || e.Line < 1 || e.Line > len(f.Lines) {
			t.Fatalf("error %v has no valid file and line", err)
		}
		if errors.Is(err, ErrUndeclaredBlock) || errors.Is(err, ErrDuplicateBlock) {
			block++
		} else if f.Lines[e.Line-1].Kind != Bad {
			t.Fatalf("error %v on a line of kind %v", err, f.Lines[e.Line-1].Kind)
		}
	}
	if bad != len(errs)-block {
		t.Fatalf("%d Bad lines but %d syntax errors", bad, len(errs)-block)
	}
}

func checkSetResult(t *testing.T, syntax string, before []string, g *File, l *Line, prefix, name, value string, nerrs int) {
	t.Helper()
	after := lineTexts(g)
	if g.Lines[l.Num-1] != l {
		t.Fatalf("Set returned a line that is not Lines[%d]", l.Num-1)
	}
	switch len(after) {
	case len(before):
		for j := range before {
			if j != l.Num-1 && before[j] != after[j] {
				t.Fatalf("Set(%q, %q, %q) changed line %d %q -> %q besides line %d", prefix, name, value, j+1, before[j], after[j], l.Num)
			}
		}
	case len(before) + 1:
		i := l.Num - 1
		rest := append(append([]string{}, after[:i]...), after[i+1:]...)
		for j := range before {
			if before[j] != rest[j] && !(j == len(before)-1 && j == i-1 && (rest[j] == before[j]+"\n" || rest[j] == before[j]+"\r\n")) {
				t.Fatalf("Set(%q, %q, %q) inserting line %d changed line %d %q -> %q", prefix, name, value, l.Num, j+1, before[j], rest[j])
			}
		}
	default:
		t.Fatalf("Set changed the line count from %d to %d", len(before), len(after))
	}
	h, errs := Parse("fuzz", g.Bytes(), syntax)
	got := h.Lookup(prefix, name)
	if got == nil || got.Value != value || got.Num != l.Num || got.Raw != l.Raw {
		t.Fatalf("after Set(%q, %q, %q), re-Parse Lookup = %+v, want line %d", prefix, name, value, got, l.Num)
	}
	if len(errs) != nerrs {
		t.Fatalf("after Set(%q, %q, %q), %d errors instead of %d: %v", prefix, name, value, len(errs), nerrs, errs)
	}
}

func FuzzParseEnv(f *testing.F) {
	for _, name := range goldenFiles(f, "env") {
		f.Add(readGolden(f, name), "new value")
	}
	f.Add([]byte("A='x'; export A\r\nexport B=\"y\""), `it's "$x"`)
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		e, errs := ParseEnv("fuzz", data)
		if !bytes.Equal(e.Bytes(), data) {
			t.Fatalf("Bytes() = %q, want the input %q", e.Bytes(), data)
		}
		for i, l := range e.Lines {
			if l.Num != i+1 {
				t.Fatalf("Lines[%d].Num = %d", i, l.Num)
			}
			if l.HasAssign && !isShellName(l.Var) {
				t.Fatalf("line %d assigns %q", l.Num, l.Var)
			}
		}
		for _, err := range errs {
			var pe *Error
			if !errors.As(err, &pe) || pe.File != "fuzz" || pe.Line < 1 || pe.Line > len(e.Lines) {
				t.Fatalf("error %v has no valid file and line", err)
			}
		}
		var names []string
		if vars := e.Vars(); len(vars) > 0 {
			names = append(names, vars[0].Var, vars[len(vars)-1].Var)
		}
		names = append(names, "FUZZ_NEW")
		for _, name := range names {
			for _, v := range []string{"v1", value} {
				g, _ := ParseEnv("fuzz", data)
				before := envTexts(g)
				l, err := g.Set(name, v)
				if err != nil {
					if v == "v1" {
						t.Fatalf("Set(%q, v1) = %v", name, err)
					}
					if !bytes.Equal(g.Bytes(), data) {
						t.Fatalf("failed Set changed the file")
					}
					continue
				}
				after := envTexts(g)
				if len(after) != len(before) && len(after) != len(before)+1 {
					t.Fatalf("Set changed the line count from %d to %d", len(before), len(after))
				}
				changed := 0
				for j := range before {
					if before[j] != after[j] {
						changed++
					}
				}
				if len(after) == len(before) && changed > 1 || len(after) > len(before) && changed > 1 {
					t.Fatalf("Set(%q, %q) changed %d existing lines", name, v, changed)
				}
				h, errs2 := ParseEnv("fuzz", g.Bytes())
				if got := h.Lookup(name); got == nil || got.Value != v || got.Num != l.Num {
					t.Fatalf("after Set(%q, %q), re-parse Lookup = %+v", name, v, got)
				}
				if len(errs2) != len(errs) {
					t.Fatalf("after Set(%q, %q), %d errors instead of %d", name, v, len(errs2), len(errs))
				}
			}
		}
		// FormatEnv output always reads back.
		if !strings.ContainsAny(value, "\r\n\x00") {
			h, errs := ParseEnv("fuzz", []byte(FormatEnv("FUZZ_NEW", value)))
			if errs != nil || len(h.Lines) != 1 || h.Lines[0].Value != value || !h.Lines[0].Exported {
				t.Fatalf("FormatEnv(FUZZ_NEW, %q) does not read back: %v", value, errs)
			}
		}
	})
}

// passwordErrRE is every message ParsePasswordFile may produce; anything
// else could be quoting a line, that is a password.
var passwordErrRE = regexp.MustCompile(`^(expected "module:password"|missing module name before ':'|module listed again \(first on line \d+\); the last line is used)$`)

func FuzzParsePasswordFile(f *testing.F) {
	for _, name := range goldenFiles(f, "password") {
		f.Add(readGolden(f, name))
	}
	f.Add([]byte("Tok:a\nTok:b\n:c\nd\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		modules, order, errs := ParsePasswordFile("fuzz", data)
		if len(order) != len(modules) {
			t.Fatalf("%d modules but order has %d", len(modules), len(order))
		}
		for _, m := range order {
			if _, ok := modules[m]; !ok {
				t.Fatalf("order names %q, not in the map", m)
			}
		}
		for _, err := range errs {
			var e *Error
			if !errors.As(err, &e) || e.File != "fuzz" || e.Line < 1 {
				t.Fatalf("error %v has no file and line", err)
			}
			if !passwordErrRE.MatchString(e.Err.Error()) {
				t.Fatalf("unexpected message %q (could leak a password)", e.Err)
			}
			if _, ok := modules[e.Name]; e.Name != "" && !ok {
				t.Fatalf("error names %q, which is not a module", e.Name)
			}
		}
		pw, ok := KeyPassword(modules, order)
		if ok != (len(modules) > 0) {
			t.Fatalf("KeyPassword ok = %v with %d modules", ok, len(modules))
		}
		if ok && len(order) > 0 {
			if ip, isInt := modules[InternalToken]; isInt && pw != ip {
				t.Fatalf("KeyPassword = %q, want the internal token's %q", pw, ip)
			}
		}
		for _, m := range order {
			line, err := FormatPassword(m, modules[m])
			if err != nil {
				continue
			}
			got, _, errs := ParsePasswordFile("fuzz", []byte(line+"\n"))
			if errs != nil || len(got) != 1 || got[m] != modules[m] {
				t.Fatalf("FormatPassword(%q, ...) = %q does not read back: %q %v", m, line, got, errs)
			}
		}
	})
}
