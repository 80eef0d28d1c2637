package cfgfmt

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// This file reads sslpassword.conf, the file named by SSLKeyPasswdFile
// (docs/reference.md §3.11): one "moduleName:password" per line, in clear text, e.g.
//
//	Internal (Software) Token:netscape!
//
// The passwords are secrets: no error produced here ever quotes the text of
// a line, only file, line number and module name, so that errors can be
// logged safely.

// InternalToken is the PKCS#11 module name of the NSS software token, the
// one whose password unlocks the server key in a default installation.
const InternalToken = "Internal (Software) Token"

// ParsePasswordFile reads sslpassword.conf. It returns the password of
// each module, the module names in the order of their first line, and one
// *Error per bad line. Blank lines and lines whose first non-blank
// character is '#' are ignored.
//
// A line is split at its first ':' because module names never contain one
// while passwords may. Blanks around the module name are dropped; the
// password is everything after the ':' exactly as written (a trailing blank
// may be part of it), only a CRLF line end is removed. An empty password is
// accepted (a token without one). When a module appears twice the last
// line wins, as in the *.cfg files, and the repetition is reported.
func ParsePasswordFile(name string, data []byte) (map[string]string, []string, []error) {
	modules := map[string]string{}
	var order []string
	var errs []error
	firstLine := map[string]int{}
	for i, pl := range physLines(string(data)) {
		num, raw := i+1, pl[0]
		if num == 1 {
			raw = strings.TrimPrefix(raw, utf8BOM)
		}
		fail := func(module, msg string) {
			errs = append(errs, &Error{File: name, Line: num, Name: module, Err: errors.New(msg)})
		}
		text := strings.TrimLeft(raw, " \t")
		if text == "" || text[0] == '#' {
			continue
		}
		c := strings.IndexByte(text, ':')
		if c < 0 {
			// Deliberately vague: the line may well be a bare password.
			fail("", `expected "module:password"`)
			continue
		}
		module := trimWSPRight(text[:c])
		if module == "" {
			fail("", "missing module name before ':'")
			continue
		}
		if first, ok := firstLine[module]; ok {
			fail(module, fmt.Sprintf("module listed again (first on line %d); the last line is used", first))
		} else {
			firstLine[module] = num
			order = append(order, module)
		}
		modules[module] = text[c+1:]
	}
	return modules, order, errs
}

// KeyPassword picks the password that unlocks the server key: that of the
// Internal (Software) Token (the module name compared case-insensitively),
// or else the first module in order, or, without an order, the first module
// name in sorted order so the choice does not depend on map iteration.
// ok is false when there is no module at all.
func KeyPassword(modules map[string]string, order []string) (password string, ok bool) {
	if pw, ok := modules[InternalToken]; ok {
		return pw, true
	}
	names := make([]string, 0, len(modules))
	for m := range modules {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		if strings.EqualFold(m, InternalToken) {
			return modules[m], true
		}
	}
	for _, m := range order {
		if pw, ok := modules[m]; ok {
			return pw, true
		}
	}
	if len(names) > 0 {
		return modules[names[0]], true
	}
	return "", false
}

// FormatPassword returns the sslpassword.conf line "module:password"
// (without line end), for tools that write the file. It refuses a module
// name that would not read back (empty, with ':' or a line break, starting
// with '#' or with surrounding blanks) and a password with a line break;
// like ParsePasswordFile, its errors never contain the password.
func FormatPassword(module, password string) (string, error) {
	fail := func(msg string) (string, error) {
		return "", fmt.Errorf("cfgfmt: sslpassword.conf module %q: %s", module, msg)
	}
	switch {
	case module == "":
		return "", errors.New("cfgfmt: sslpassword.conf: empty module name")
	case strings.ContainsAny(module, ":\r\n"):
		return fail("name contains ':' or a line break")
	case module[0] == '#' || isWSPByte(module[0]) || isWSPByte(module[len(module)-1]):
		return fail("name starts with '#' or has surrounding blanks")
	case strings.ContainsAny(password, "\r\n"):
		return fail("password contains a line break")
	}
	return module + ":" + password, nil
}
