package setup

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// Answers files are Java-style properties files ("key = value" lines, "#"
// comments, backslash escapes), read and written by cfgfmt.

// readAnswers loads an answers file and checks that every key is one the
// dialogue knows, so that a misspelt key is an error rather than a
// silently ignored answer.
func readAnswers(name string, qs []*question) (map[string]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	props, err := cfgfmt.ParseProperties(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	known := map[string]bool{}
	var keys []string
	for _, q := range qs {
		if !known[q.Key] {
			known[q.Key] = true
			keys = append(keys, q.Key)
		}
	}
	m := map[string]string{}
	var bad []string
	for _, pr := range props {
		k := pr.Key
		if !known[k] {
			msg := fmt.Sprintf("unknown answer key %q", k)
			if c := param.Closest(k, keys); c != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", c)
			}
			bad = append(bad, msg)
			continue
		}
		m[k] = pr.Value
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: %s", name, strings.Join(bad, "; "))
	}
	return m, nil
}

// formatAnswers renders a round's answers as an answers file, each key
// preceded by the question it answers. Passwords are left out unless
// withPasswords: a recorded file is often kept with the installation
// notes, where a password does not belong.
func formatAnswers(a *answerSet, qs []*question, withPasswords bool) []byte {
	byKey := map[string]*question{}
	for _, q := range qs {
		if _, ok := byKey[q.Key]; !ok {
			byKey[q.Key] = q
		}
	}
	var entries []cfgfmt.Property
	var left []string
	for _, k := range a.keys {
		q := byKey[k]
		if k == "confirm" {
			continue
		}
		if q.Kind == kindSecret && !withPasswords {
			left = append(left, k)
			continue
		}
		entries = append(entries, cfgfmt.Property{Key: k, Value: a.get(k), Comment: q.Label})
	}
	var b bytes.Buffer
	b.WriteString("# mmp-setup answers; replay them with: mmp-setup --answers FILE\n")
	if len(left) > 0 {
		sort.Strings(left)
		fmt.Fprintf(&b, "# Passwords are not recorded (use --with-passwords); add them before replaying:\n#   %s\n",
			strings.Join(left, ", "))
	}
	b.WriteString("\n")
	b.Write(cfgfmt.FormatProperties(entries))
	return b.Bytes()
}
