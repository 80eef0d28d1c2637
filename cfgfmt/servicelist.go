package cfgfmt

import (
	"errors"
	"fmt"
	"strings"
)

// ServiceEntry is one entry of ServiceList (docs/reference.md §3.2):
// DLLNAME[:INSTANCE[:SECTION]]@PORTSPEC.
type ServiceEntry struct {
	// DLL is the module path as written, e.g. /opt/SUNWmsgsr/lib/ImapProxyAService.
	DLL string
	// Module is the base name of DLL without a .so, .dll, .sl or .dylib
	// extension: ImapProxyAService, PopProxyAService, SmtpProxyAService,
	// their Sun 7.x names imapproxy, popproxy, submitproxy, or anything
	// else, which the caller rejects (docs/reference.md §1.7).
	Module string
	// Instance is the base name of the instance's config file without
	// ".cfg"; it defaults to the module's Sun 6 name (see Standard).
	Instance string
	// Section is the section prefix read from that file; it defaults to
	// "default".
	Section string
	// Addrs are the local addresses to listen on; never empty.
	Addrs []ListenAddr
}

// moduleExts are the shared-object extensions stripped from a DLL name.
// The reference writes DLL names without one, but an administrator copying the
// file name from lib/ would add it.
var moduleExts = []string{".so", ".dll", ".sl", ".dylib"}

// moduleName returns the base name of dll without its extension. Both
// "/" and "\" end a directory: a ServiceList copied from a Windows
// installation names C:\Sun\lib\ImapProxyAService.
func moduleName(dll string) string {
	b := dll[strings.LastIndexAny(dll, `/\`)+1:]
	for _, ext := range moduleExts {
		if len(b) > len(ext) && strings.EqualFold(b[len(b)-len(ext):], ext) {
			return b[:len(b)-len(ext)]
		}
	}
	return b
}

// modules maps the lower-cased module names the MMP knows to their
// protocol and Sun 6 name. Sun 6 names the modules after their files;
// Sun 7.x writes imapproxy, popproxy and submitproxy, the names of its
// unified-configuration groups.
var modules = map[string]struct{ protocol, standard string }{
	"imapproxyaservice": {"imap", "ImapProxyAService"},
	"popproxyaservice":  {"pop", "PopProxyAService"},
	"smtpproxyaservice": {"smtp", "SmtpProxyAService"},
	"imapproxy":         {"imap", "ImapProxyAService"},
	"popproxy":          {"pop", "PopProxyAService"},
	"submitproxy":       {"smtp", "SmtpProxyAService"},
}

// Protocol returns the protocol the entry's module serves: "imap", "pop"
// or "smtp", or "" for a module the MMP does not have. The module is known
// by its base name alone, compared case-insensitively, because the
// directory it was installed in differs from one installation to the next.
func (e ServiceEntry) Protocol() string {
	return modules[strings.ToLower(moduleName(e.DLL))].protocol
}

// Standard returns the Sun 6 name of the entry's module
// (ImapProxyAService, PopProxyAService, SmtpProxyAService), whatever
// spelling the entry uses, or "" for a module the MMP does not have. It
// is the default instance name, so "imapproxy@143" reads
// ImapProxyAService.cfg as the Sun guide says INSTANCENAME defaults to.
func (e ServiceEntry) Standard() string {
	return modules[strings.ToLower(moduleName(e.DLL))].standard
}

// defaultInstance is the instance an entry without INSTANCE reads.
func (e ServiceEntry) defaultInstance() string {
	if s := e.Standard(); s != "" {
		return s
	}
	return moduleName(e.DLL)
}

// String writes the entry as ParseServiceList reads it, leaving out
// INSTANCE and SECTION where they have their default value.
func (e ServiceEntry) String() string {
	s := e.DLL
	switch {
	case e.Section != "default":
		s += ":" + e.Instance + ":" + e.Section
	case e.Instance != e.defaultInstance():
		s += ":" + e.Instance
	}
	return s + "@" + FormatPortSpec(e.Addrs)
}

// FormatServiceList writes entries as a ServiceList value.
func FormatServiceList(entries []ServiceEntry) string {
	s := make([]string, len(entries))
	for i, e := range entries {
		s[i] = e.String()
	}
	return strings.Join(s, " ")
}

// ParseServiceList parses the ServiceList value (docs/reference.md §3.2): entries
// separated by blanks, each DLLNAME[:INSTANCE[:SECTION]]@PORTSPEC. The
// DLL path holds no ":" but for a leading Windows drive letter; IPv6
// addresses in the port spec are bracketed, so the entry splits
// unambiguously at the last "@" and then at ":". The same address and port in two places (in one entry
// or in two) is an error, since the daemon could bind it only once. A
// module name the MMP does not know is not an error here; see Protocol.
// A blank value gives no entries and no error: whether that is acceptable
// is the caller's decision.
func ParseServiceList(s string) ([]ServiceEntry, error) {
	type seen struct {
		entry int
		addr  ListenAddr
	}
	var all []seen
	var out []ServiceEntry
	for i, item := range strings.FieldsFunc(s, isBlank) {
		e, err := parseServiceEntry(item)
		if err != nil {
			return nil, entryError(i, item, err)
		}
		for _, a := range e.Addrs {
			for _, o := range all {
				if sameListenAddr(a, o.addr) {
					return nil, entryError(i, item, fmt.Errorf("%s already listed in entry %d", a, o.entry+1))
				}
			}
		}
		for _, a := range e.Addrs {
			all = append(all, seen{i, a})
		}
		out = append(out, e)
	}
	return out, nil
}

// parseServiceEntry parses one DLLNAME[:INSTANCE[:SECTION]]@PORTSPEC.
func parseServiceEntry(s string) (ServiceEntry, error) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ServiceEntry{}, errors.New(`missing "@PORTSPEC"`)
	}
	name, ports := s[:at], s[at+1:]
	if ports == "" {
		return ServiceEntry{}, errors.New(`missing port list after "@"`)
	}
	// A Windows drive letter ("C:\Sun\lib\ImapProxyAService") is part of
	// the DLL name, not an INSTANCE separator.
	drive := ""
	if len(name) > 2 && name[1] == ':' && (name[2] == '\\' || name[2] == '/') && isASCIILetter(name[0]) {
		drive, name = name[:2], name[2:]
	}
	parts := strings.Split(name, ":")
	if len(parts) > 3 {
		return ServiceEntry{}, errors.New(`too many ":" before "@": want DLLNAME[:INSTANCE[:SECTION]]`)
	}
	e := ServiceEntry{DLL: drive + parts[0], Section: "default"}
	if e.DLL == "" {
		return ServiceEntry{}, errors.New("missing module name")
	}
	if strings.HasSuffix(e.DLL, "/") || strings.HasSuffix(e.DLL, `\`) {
		return ServiceEntry{}, fmt.Errorf("module name %q is a directory", e.DLL)
	}
	e.Module = moduleName(e.DLL)
	e.Instance = e.defaultInstance()
	if len(parts) > 1 {
		e.Instance = parts[1]
		if e.Instance == "" {
			return ServiceEntry{}, errors.New("empty instance name")
		}
		// The instance names a file in the config directory.
		if strings.ContainsAny(e.Instance, `/\`) || e.Instance == "." || e.Instance == ".." {
			return ServiceEntry{}, fmt.Errorf("bad instance name %q: want a config file name without directory", e.Instance)
		}
	}
	if len(parts) > 2 {
		e.Section = parts[2]
		if e.Section == "" {
			return ServiceEntry{}, errors.New("empty section name")
		}
	}
	addrs, err := ParsePortSpec(ports)
	if err != nil {
		return ServiceEntry{}, fmt.Errorf("port list %q: %w", ports, err)
	}
	if len(addrs) == 0 {
		return ServiceEntry{}, errors.New(`missing port list after "@"`)
	}
	e.Addrs = addrs
	return e, nil
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
