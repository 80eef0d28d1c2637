package setup

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/param"
)

// The installer's questions, in the order of docs/reference.md §6 and the Netscape
// guide's Table 13.7, with the prompts in the guide's own wording where it
// survives. Each question names the parameter it sets: the table in
// package param gives the answer's grammar (Check) and its default
// (DefaultFor), so that nothing here restates what a value may be.

// kind is how a question is asked.
type kind int

const (
	kindInput  kind = iota // free text
	kindSecret             // a password: not echoed, never shown
	kindYesNo              // y or n
	kindChoice             // one of Options
)

// question is one row of the dialogue.
type question struct {
	Key   string // answer name in answers files
	Kind  kind
	Label string // short name in the summary

	// Gate is the y/n question whose yes leads here; the question is
	// asked only after that yes. "" for none.
	Gate string

	// Param is the parameter the answer sets or stands for: its grammar
	// validates the answer and its Doc is the help text. Nil for answers
	// that are the installer's own (root, instance).
	Param *param.Param

	// Required refuses an empty answer where the parameter's grammar
	// would take it for "unset".
	Required bool

	Text    func(s *session) string   // the prompt
	When    func(s *session) bool     // nil: always (once Gate said yes)
	Default func(s *session) string   // the table's default in this context
	Options func(s *session) []Option // kindChoice
	Check   func(s *session, v string) error

	// DocWhen and DocValue describe the answer in the package
	// documentation's table of answer keys.
	DocWhen  string
	DocValue string
}

// yesNo is the grammar of every y/n question: the Netscape installer's
// LDAPAuth answer, which the table defines as a bool taking y and n.
var yesNo = param.LDAPAuth.Param

// Service choices (docs/reference.md §6 item 5; 4 is the SMTP submission proxy of Sun
// 5.2 and later, which the Netscape installer did not have).
const (
	svcIMAP    = "imap"
	svcPOP     = "pop"
	svcIMAPPOP = "imap+pop"
	svcAll     = "imap+pop+smtp"
)

// protocol is one proxy an instance may run.
type protocol struct {
	key    string      // answer-key prefix: "imap"
	where  param.Where // param.IMAP ...
	name   string      // as the Netscape prompts wrote it: "IMAP4"
	module string      // ServiceList module and S6 file: ImapProxyAService
	n4     string      // Netscape file and script base name: ImapMMP
	prog   string      // Netscape front-end program: ImapProxy
}

var protocols = []protocol{
	{"imap", param.IMAP, "IMAP4", "ImapProxyAService", "ImapMMP", "ImapProxy"},
	{"pop", param.POP, "POP3", "PopProxyAService", "PopMMP", "PopProxy"},
	{"smtp", param.SMTP, "SMTP", "SmtpProxyAService", "SmtpMMP", "SmtpProxy"},
}

func protocolOf(w param.Where) protocol {
	for _, p := range protocols {
		if p.where == w {
			return p
		}
	}
	panic("setup: no protocol for " + w.String())
}

// chosen returns the protocols a service answer selects.
func chosen(service string) []protocol {
	switch service {
	case svcIMAP:
		return protocols[:1]
	case svcPOP:
		return protocols[1:2]
	case svcIMAPPOP:
		return protocols[:2]
	case svcAll:
		return protocols
	}
	return nil
}

var serviceOptions = []Option{
	{svcIMAP, "Configure this instance for IMAP mail service"},
	{svcPOP, "Configure this instance for POP3 mail service"},
	{svcIMAPPOP, "Configure this instance for both IMAP4 and POP3 mail service"},
	{svcAll, "Configure this instance for IMAP4, POP3 and SMTP submission service"},
}

// DefaultRoot is the installation directory offered by default. The
// Netscape installer offered /usr/netscape/suitespot4/mmp (docs/reference.md §3.12),
// which names a product line that no longer exists.
const DefaultRoot = "/opt/openmmp"

// DefaultUser is the run-as user offered by default, as in Netscape's
// installer; the guide asks administrators to change it to a dedicated one.
const DefaultUser = "nobody"

// fixed returns a Default function for a constant.
func fixed(v string) func(*session) string { return func(*session) string { return v } }

// tableDefault returns the parameter's default in the session's context:
// the Sun 6 default for the files mmp-setup writes by default, the
// Netscape one with --n4 (docs/reference.md §7.1: canonical delimiter "@" or "+").
func tableDefault(p *param.Param) func(*session) string {
	return func(s *session) string { return p.DefaultFor(s.ctx(s.primary())) }
}

// example returns the parameter's example value, offered where the
// parameter has no default but a typical value helps (vdmap.cfg).
func example(p *param.Param) func(*session) string {
	return func(*session) string { return p.Example }
}

// boolDefault gives a y/n question the answer "y" when the parameter's
// default is true.
func boolDefault(p *param.Param) func(*session) string {
	return func(s *session) string {
		b, err := parseYesNo(p.DefaultFor(s.ctx(s.primary())))
		return yn(err == nil && b)
	}
}

// serviceLabel is the "[IMAP4/POP3]" of the Netscape prompts, filled in
// for the services chosen.
func (s *session) serviceLabel() string {
	var names []string
	for _, p := range s.protocols() {
		names = append(names, p.name)
	}
	if len(names) == 0 {
		return "IMAP4"
	}
	return strings.Join(names, "/")
}

// portQuestions are the listen, store and SSL port questions of one
// protocol; the Netscape installer asked them once per proxy it set up.
func portQuestions(pr protocol, sslOnly bool) []*question {
	uses := func(s *session) bool { return s.uses(pr.where) }
	if sslOnly {
		// The seed's "Should the IMAP4 MMP do SSL (y/n)", asked of each
		// proxy, since each has its own SSLEnable and SSL port.
		return []*question{
			{Key: pr.key + ".ssl", Kind: kindYesNo, Label: pr.name + " SSL", Param: param.SSLEnable.Param,
				Text:    func(*session) string { return "Should the " + pr.name + " MMP do SSL" },
				When:    uses,
				Default: boolDefault(param.SSLEnable.Param), DocWhen: "service has " + pr.key, DocValue: "y/n, default n"},
			{Key: pr.key + ".sslport.custom", Kind: kindYesNo, Label: pr.name + " SSL port not default", Gate: pr.key + ".ssl",
				Text:    func(*session) string { return "Should the " + pr.name + " MMP listen for SSL on a non-default port" },
				When:    uses,
				Default: fixed("n"), DocWhen: pr.key + ".ssl", DocValue: "y/n, default n"},
			{Key: pr.key + ".sslport", Label: pr.name + " SSL port", Gate: pr.key + ".sslport.custom",
				Param: param.SSLListenPort.Param, Required: true,
				Text: fixed("Which port?"), When: uses,
				Default: func(*session) string { return param.SSLListenPort.DefaultFor(pr.where | param.N4) },
				Check:   func(s *session, v string) error { return s.checkPorts(pr.key+".sslport", v) },
				DocWhen: pr.key + ".sslport.custom", DocValue: "[IP:]port[|...], default " + param.SSLListenPort.DefaultFor(pr.where|param.N4)},
		}
	}
	qs := []*question{
		{Key: pr.key + ".port.custom", Kind: kindYesNo, Label: pr.name + " port not default",
			Text:    func(*session) string { return "Should the " + pr.name + " MMP listen on a non-default port" },
			When:    uses,
			Default: fixed("n"), DocWhen: "service has " + pr.key, DocValue: "y/n, default n"},
		{Key: pr.key + ".port", Label: pr.name + " port", Gate: pr.key + ".port.custom",
			Param: param.ListenPort.Param, Required: true,
			Text: fixed("Which port"), When: uses,
			Default: func(*session) string { return param.ListenPort.DefaultFor(pr.where | param.N4) },
			Check:   func(s *session, v string) error { return s.checkPorts(pr.key+".port", v) },
			DocWhen: pr.key + ".port.custom", DocValue: "[IP:]port[|...], default " + param.ListenPort.DefaultFor(pr.where|param.N4)},
	}
	if pr.where == param.SMTP {
		return qs // the relays are SmtpRelays, asked with the service
	}
	return append(qs,
		&question{Key: pr.key + ".storeport.custom", Kind: kindYesNo, Label: pr.name + " store port not default",
			Text:    func(*session) string { return "Do your main " + pr.name + " servers listen on non-default ports" },
			When:    uses,
			Default: fixed("n"), DocWhen: "service has " + pr.key, DocValue: "y/n, default n"},
		&question{Key: pr.key + ".storeport", Label: pr.name + " store port", Gate: pr.key + ".storeport.custom",
			Param: param.BacksidePort.Param, Required: true,
			Text: fixed("Which port"), When: uses,
			Default: func(*session) string { return param.BacksidePort.DefaultFor(pr.where) },
			DocWhen: pr.key + ".storeport.custom", DocValue: "port (BacksidePort), default " + param.BacksidePort.DefaultFor(pr.where)},
	)
}

// override builds the Netscape installer's pair "Would you like to
// override X (y/n)" → "Please type in the new X": a y/n question key.custom
// and the value question key. A no puts the parameter back to its default.
func override(key, label string, p *param.Param, ask, askValue string, when func(*session) bool, docWhen string) []*question {
	return []*question{
		{Key: key + ".custom", Kind: kindYesNo, Label: label + " overridden", Text: fixed(ask), When: when,
			Default: fixed("n"), DocWhen: docWhen, DocValue: "y/n, default n"},
		{Key: key, Label: label, Gate: key + ".custom", Param: p, Required: true, Text: fixed(askValue), When: when,
			Default: tableDefault(p), DocWhen: key + ".custom", DocValue: p.Name},
	}
}

// questions returns the dialogue in order.
func questions() []*question {
	qs := []*question{
		{Key: "user", Label: "Run as user", Param: param.BeTheUser.Param, Required: true,
			Text:    fixed("User name the Multiplexor should run as"),
			Default: fixed(DefaultUser), DocValue: "BeTheUser, default " + DefaultUser + "; asked again for an instance run by another user"},
		{Key: "root", Label: "Installation directory", Required: true,
			Text:    fixed("Installation directory (MMPRoot)"),
			Default: fixed(DefaultRoot), Check: checkRoot, DocValue: "absolute path, default " + DefaultRoot},
		{Key: "mode", Kind: kindChoice, Label: "Action",
			Text: func(s *session) string {
				return fmt.Sprintf("Instances found in %s: %s. Create a new instance or change an existing one", s.ans.get("root"), strings.Join(s.foundNames(), ", "))
			},
			When:    func(s *session) bool { return len(s.found) > 0 },
			Options: func(*session) []Option { return modeOptions },
			Default: fixed("new"), DocWhen: "instances exist under root", DocValue: "new or modify, default new"},
		{Key: "instance", Label: "Instance", Required: true,
			Text:    fixed("Name of the new instance"),
			When:    func(s *session) bool { return s.ans.get("mode") != "modify" },
			Default: func(s *session) string { return s.hostname }, Check: checkNewInstance,
			DocValue: "directory name under root, default the host name"},
		{Key: "instance", Kind: kindChoice, Label: "Instance",
			Text:    fixed("Instance to change"),
			When:    func(s *session) bool { return s.ans.get("mode") == "modify" },
			Options: func(s *session) []Option { return s.instanceOptions() },
			Default: func(s *session) string { return s.foundNames()[0] },
			DocWhen: "mode modify", DocValue: "an existing instance"},
		// The user is asked first, as the Netscape installer did, before
		// the instance is known; when the instance chosen for changing
		// runs as someone else, the question comes again with the
		// instance's BeTheUser as its default, so that pressing Enter
		// does not hand the instance to nobody.
		{Key: "user", Label: "Run as user", Param: param.BeTheUser.Param, Required: true,
			Text: func(s *session) string {
				return fmt.Sprintf("Instance %s runs as %s. User name the Multiplexor should run as", s.ans.get("instance"), s.cur.answers["user"])
			},
			When: func(s *session) bool {
				return s.cur != nil && s.cur.answers["user"] != "" && s.cur.answers["user"] != s.ans.get("user")
			},
		},
		{Key: "service", Kind: kindChoice, Label: "Service",
			Text:    fixed("Which kind of mail service should this instance support"),
			Options: func(*session) []Option { return serviceOptions },
			Default: fixed(svcIMAPPOP), DocValue: "imap, pop, imap+pop or imap+pop+smtp (or 1-4), default imap+pop"},

		{Key: "smtp.relays", Label: "SMTP relays", Param: param.SmtpRelays.Param, Required: true,
			Text: fixed("Which SMTP relays should submitted mail go to (host[:port] ...)"),
			When: func(s *session) bool { return s.uses(param.SMTP) }, DocWhen: "service has smtp", DocValue: "SmtpRelays"},
		{Key: "smtp.password", Kind: kindSecret, Label: "SMTP proxy password", Param: param.SmtpProxyPassword.Param, Required: true,
			Text: fixed("What's the password the relays expect from the MMP (PROXY_PASSWORD)"),
			When: func(s *session) bool { return s.uses(param.SMTP) }, DocWhen: "service has smtp", DocValue: "SmtpProxyPassword"},
		{Key: "smtp.channel", Label: "POP-before-SMTP channel", Param: param.PopBeforeSmtpKludgeChannel.Param,
			Text: fixed("Which MTA channel should clients with a recent POP login be switched to (empty for none)"),
			When: func(s *session) bool { return s.uses(param.SMTP) }, DocWhen: "service has smtp", DocValue: "PopBeforeSmtpKludgeChannel, default none"},

		{Key: "bindir", Label: "Program directory", Required: true,
			Text:    func(s *session) string { return "Which directory holds the " + s.programs() + " programs" },
			When:    func(s *session) bool { return s.n4() },
			Default: func(s *session) string { return filepath.Join(s.ans.get("root"), "bin") },
			Check:   checkAbs, DocWhen: "--n4", DocValue: "absolute path, default root/bin"},

		{Key: "ldap.host", Label: "LDAP Host", Param: param.LDAPHost.Param, Required: true,
			Text: fixed("LDAP Host"), Default: defaultLDAPHost,
			DocValue: "host[:port] ..., default localhost:389"},
		{Key: "ldap.basedn", Label: "Base DN", Param: param.BaseDN.Param, Required: true,
			Text: fixed("Base DN"), Default: defaultBaseDN,
			DocValue: "DN, default o=internet (--n4: o=mcom.com)"},
		{Key: "logdir", Label: "LogDir", Param: param.LogDir.Param, Required: true,
			Text:    func(s *session) string { return s.serviceLabel() + " MMP LogDir" },
			Default: tableDefault(param.LogDir.Param), DocValue: "LogDir, default log (--n4: .)"},
		{Key: "loglevel", Label: "Log Level", Param: param.LogLevel.Param, Required: true,
			Text: fixed("Log Level"), Default: tableDefault(param.LogLevel.Param), DocValue: "LogLevel 0-10, default 1"},
		{Key: "bind", Kind: kindYesNo, Label: "Bind as someone in particular", Param: param.LDAPAuth.Param,
			Text:    fixed("Should the MMP bind to LDAP as someone in particular"),
			Default: boolDefault(param.LDAPAuth.Param), DocValue: "y/n, default n (anonymous)"},
		{Key: "bind.dn", Label: "Bind DN", Gate: "bind", Param: param.BindDN.Param, Required: true,
			Text: fixed("What user should the MMP authenticate as"), DocWhen: "bind", DocValue: "BindDN"},
		{Key: "bind.password", Kind: kindSecret, Label: "Bind password", Gate: "bind", Param: param.BindPass.Param, Required: true,
			Text:    func(s *session) string { return fmt.Sprintf("What's the password for %q", s.ans.get("bind.dn")) },
			DocWhen: "bind", DocValue: "BindPass"},
		{Key: "threads", Label: "Number of Threads", Param: param.NumThreads.Param, Required: true,
			Text: fixed("Number of Threads"), Default: tableDefault(param.NumThreads.Param),
			DocValue: "NumThreads, default 1 (--n4: 0)"},
	}
	for _, pr := range protocols {
		qs = append(qs, portQuestions(pr, false)...)
	}
	imap := func(s *session) bool { return s.uses(param.IMAP) }
	pop := func(s *session) bool { return s.uses(param.POP) }
	qs = append(qs, override("capability", "CAPABILITY", param.Capability.Param,
		"Would you like to override the IMAP4 MMP's CAPABILITY response",
		"Please type in the new CAPABILITY, and hit return.", imap, "service has imap")...)
	qs = append(qs, override("banner", "Banner", param.Banner.Param,
		"Would you like to override the MMP's banner",
		"Please type in the new banner, and hit return.", nil, "")...)
	qs = append(qs, override("search", "LDAP search string", param.SearchFormat.Param,
		"Would you like to override the MMP's LDAP search string",
		"Please type in the new search string, and hit return.", nil, "")...)
	qs = append(qs,
		&question{Key: "replay.custom", Kind: kindYesNo, Label: "Attribute for auth replay",
			Text:    fixed("Would you like MMP to use a particular attribute for auth replay"),
			When:    func(s *session) bool { return !s.foreignReplay },
			Default: fixed("n"), DocWhen: "ReplayFormat is %U or %A[attr]", DocValue: "y/n, default n"},
		&question{Key: "replay.attr", Label: "Auth replay attribute", Gate: "replay.custom", Param: param.UidAttr.Param, Required: true,
			Text: fixed("Please type in attribute, and hit return."), When: func(s *session) bool { return !s.foreignReplay },
			DocWhen: "replay.custom", DocValue: "attribute (UidAttr, written as ReplayFormat %A[attr])"},
	)
	qs = append(qs, override("mailhost", "Mailhost attributes", param.MailHostAttrs.Param,
		"Would you like the MMP to use a non-default attribute for the mailhost?",
		"Please type in the list of attributes, and hit return. (Comma-delimited list.)", nil, "")...)
	qs = append(qs,
		&question{Key: "vdmap", Kind: kindYesNo, Label: "Virtual domain mapping",
			Text: fixed("Should this MMP do virtual domain mapping"), Default: fixed("n"), DocValue: "y/n, default n"},
		&question{Key: "vdmap.file", Label: "Mapping file", Gate: "vdmap", Param: param.VirtualDomainFile.Param, Required: true,
			Text:    fixed("Please type the location of the mapping file, and hit return"),
			Default: example(param.VirtualDomainFile.Param), DocWhen: "vdmap", DocValue: "VirtualDomainFile, default vdmap.cfg"},
		&question{Key: "vdmap.create", Kind: kindYesNo, Label: "Add a virtual domain", Gate: "vdmap",
			Text: func(s *session) string {
				return "Would you like to add a virtual domain to " + s.ans.get("vdmap.file") + " now"
			},
			Default: func(s *session) string { return yn(!s.exists(s.ans.get("vdmap.file"))) },
			DocWhen: "vdmap", DocValue: "y/n, default y when the file does not exist"},
		&question{Key: "vdmap.name", Label: "Virtual domain entry", Gate: "vdmap.create", Required: true,
			Text:  fixed("Name of the virtual domain entry (vdmap NAME)"),
			Check: checkBlockName, DocWhen: "vdmap.create", DocValue: "word"},
		&question{Key: "vdmap.ip", Label: "Virtual domain address", Gate: "vdmap.create", Required: true,
			Text:  fixed("Which server IP address do this domain's clients connect to"),
			Check: checkIP, DocWhen: "vdmap.create", DocValue: "IP address"},
		&question{Key: "vdmap.domain", Label: "Virtual domain", Gate: "vdmap.create", Param: param.DefaultDomain.Param, Required: true,
			Text:    fixed("Which domain should be added to logins on that address (DefaultDomain)"),
			DocWhen: "vdmap.create", DocValue: "DefaultDomain"},
	)
	qs = append(qs, override("delims", "Virtual domain delimiters", param.VirtualDomainDelim.Param,
		"Do you want to specify a list of virtual domain delimiters?",
		"Please type in the new delimiter and hit return", nil, "")...)
	qs = append(qs, override("canonical", "Canonical delimiter", param.CanonicalVirtualDomainDelim.Param,
		"Do you want to specify a canonical virtual domain delimiter?",
		"Please type in the new delimiter and hit return", nil, "")...)
	qs = append(qs,
		&question{Key: "spoof", Kind: kindYesNo, Label: "POP3 spoof message",
			Text: fixed(`Would you like to provide a "spoof" message for POP3`), When: pop,
			Default: fixed("n"), DocWhen: "service has pop", DocValue: "y/n, default n"},
		&question{Key: "spoof.file", Label: "Spoof message file", Gate: "spoof", Param: param.SpoofMessageFile.Param, Required: true,
			Text: fixed("Please type in the location of the file to be used, and hit return"), When: pop,
			Default: example(param.SpoofMessageFile.Param), DocWhen: "spoof", DocValue: "SpoofMessageFile, default spoof.txt"},
	)
	qs = append(qs, override("alert", "Server Down Alert", param.ServerDownAlert.Param,
		"Would you like to override the Server Down Alert for the MMP?",
		"Please type in the alert string and hit return", imap, "service has imap")...)

	// SSL: the Netscape prompts after the first were lost (docs/reference.md §6 item
	// 23); these follow the reconstruction there, asking for the PEM files
	// Go reads instead of the NSS databases (docs/reference.md §2.7).
	for _, pr := range protocols {
		qs = append(qs, portQuestions(pr, true)...)
	}
	qs = append(qs,
		&question{Key: "ssl.cert", Label: "Certificate (PEM)", When: anySSL, Param: param.SSLCertPEM.Param, Required: true,
			Text:    fixed("Please type the location of the PEM certificate file (SSLCertPEM)"),
			Default: example(param.SSLCertPEM.Param), DocWhen: "any *.ssl", DocValue: "SSLCertPEM, default " + param.SSLCertPEM.Example},
		&question{Key: "ssl.key", Label: "Private key (PEM)", When: anySSL, Param: param.SSLKeyPEM.Param, Required: true,
			Text:    fixed("Please type the location of the PEM private key file (SSLKeyPEM)"),
			Default: example(param.SSLKeyPEM.Param), DocWhen: "any *.ssl", DocValue: "SSLKeyPEM, default " + param.SSLKeyPEM.Example},
		&question{Key: "ssl.encrypted", Kind: kindYesNo, Label: "Key has a password", When: anySSL,
			Text: fixed("Is the private key protected by a password"), Default: fixed("n"), DocWhen: "any *.ssl", DocValue: "y/n, default n"},
		&question{Key: "ssl.keypass", Kind: kindSecret, Label: "Key password", Gate: "ssl.encrypted", Param: param.SSLKeyPasswd.Param, Required: true,
			Text:    fixed("What's the password of the private key"),
			DocWhen: "ssl.encrypted", DocValue: "written to sslpassword.conf (SSLKeyPasswdFile)"},
		&question{Key: "certlogin", Kind: kindYesNo, Label: "Client certificate login", When: anySSL,
			Text: fixed("Should the MMP accept SSL client certificates for login"), Default: fixed("n"), DocWhen: "any *.ssl", DocValue: "y/n, default n"},
		&question{Key: "certlogin.ca", Label: "Client CA certificates (PEM)", Gate: "certlogin", Param: param.SSLClientCAPEM.Param, Required: true,
			Text:    fixed("Please type the location of the PEM file of the CAs client certificates must chain to (SSLClientCAPEM)"),
			Default: example(param.SSLClientCAPEM.Param), DocWhen: "certlogin", DocValue: "SSLClientCAPEM"},
		&question{Key: "storeadmin", Label: "Store administrator", Gate: "certlogin", Param: param.StoreAdmin.Param, Required: true,
			Text:    fixed("What store administrator should the MMP proxy-authenticate as (StoreAdmin)"),
			Default: example(param.StoreAdmin.Param), DocWhen: "certlogin", DocValue: "StoreAdmin, default mmpstore"},
		&question{Key: "storeadmin.password", Kind: kindSecret, Label: "Store administrator password", Gate: "certlogin",
			Param: param.StoreAdminPass.Param, Required: true,
			Text:    func(s *session) string { return fmt.Sprintf("What's the password for %q", s.ans.get("storeadmin")) },
			DocWhen: "certlogin", DocValue: "StoreAdminPass"},
		&question{Key: "certmap.file", Label: "Certmap file", Gate: "certlogin", Param: param.CertmapFile.Param, Required: true,
			Text:    fixed("Please type the location of the certmap file (CertmapFile)"),
			Default: example(param.CertmapFile.Param), DocWhen: "certlogin", DocValue: "CertmapFile, default certmap.conf"},
		&question{Key: "certmap.create", Kind: kindYesNo, Label: "Write a default map", Gate: "certlogin",
			Text: func(s *session) string {
				return "Would you like to write a default map to " + s.ans.get("certmap.file") + " now"
			},
			Default: func(s *session) string { return yn(!s.exists(s.ans.get("certmap.file"))) },
			DocWhen: "certlogin", DocValue: "y/n, default y when the file does not exist"},
		&question{Key: "certmap.filter", Label: "Certificate attributes naming the user", Gate: "certmap.create", Required: true,
			Text:    fixed("Which certificate subject attributes name the user (FilterComps)"),
			Default: fixed("uid"), Check: checkComps, DocWhen: "certmap.create", DocValue: "comma list, default uid"},

		&question{Key: "preauth", Kind: kindYesNo, Label: "Pre-authentication", Param: param.PreAuth.Param,
			Text:    fixed("Should the MMP check passwords against LDAP before contacting the store (PreAuth)"),
			Default: boolDefault(param.PreAuth.Param), DocValue: "y/n, default n"},
	)
	return qs
}

// closingQuestions follow the summary; they are asked every round but
// only the LDAP ones are recorded (a recorded file is always confirmed).
func closingQuestions() []*question {
	return []*question{
		{Key: "confirm", Kind: kindYesNo, Label: "Accepted",
			Text:    fixed("Is this information correct (n goes through the prompts again)"),
			Default: fixed("y"), DocValue: "y/n, default y; n in an answers file cancels"},
		{Key: "ldap.test", Kind: kindYesNo, Label: "Test LDAP",
			Text:    fixed("Would you like to test the LDAP settings now"),
			Default: fixed("y"), DocValue: "y/n, default y"},
		{Key: "ldap.ignore", Kind: kindYesNo, Label: "Write despite failed LDAP test",
			Text:    fixed("The LDAP test failed. Write the configuration anyway"),
			Default: fixed("n"), DocWhen: "the LDAP test failed", DocValue: "y/n, default n: ask again (answers file: cancel)"},
	}
}

var modeOptions = []Option{
	{"new", "Create a new instance"},
	{"modify", "Change an existing instance"},
}

// anySSL reports whether some proxy of the instance does SSL: the
// certificate and key are shared.
func anySSL(s *session) bool {
	for _, pr := range s.protocols() {
		if s.ans.get(pr.key+".ssl") == "y" {
			return true
		}
	}
	return false
}

func defaultLDAPHost(s *session) string {
	if s.n4() {
		return param.LDAPHost.Default
	}
	u, err := cfgfmt.ParseLdapURL(param.LdapUrl.DefaultFor(s.primary()))
	if err != nil {
		return param.LDAPHost.Default
	}
	return strings.Join(u.Hosts, " ")
}

func defaultBaseDN(s *session) string {
	if s.n4() {
		return param.BaseDN.Default
	}
	u, err := cfgfmt.ParseLdapURL(param.LdapUrl.DefaultFor(s.primary()))
	if err != nil {
		return param.BaseDN.Default
	}
	return u.BaseDN
}

func checkAbs(_ *session, v string) error {
	if !filepath.IsAbs(v) {
		return errors.New("give an absolute path (starting with /)")
	}
	if strings.ContainsAny(v, "\x00\r\n") {
		return errors.New("the path contains a control character")
	}
	return nil
}

func checkRoot(s *session, v string) error {
	if err := checkAbs(s, v); err != nil {
		return err
	}
	if fi, err := os.Stat(v); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", v)
	}
	return nil
}

// checkNewInstance accepts a name usable as a directory name, one that
// does not already hold an instance.
func checkNewInstance(s *session, v string) error {
	if err := checkInstanceName(v); err != nil {
		return err
	}
	for _, f := range s.found {
		if f.name == v {
			return fmt.Errorf("instance %s already exists; choose to change it instead", v)
		}
	}
	return nil
}

func checkInstanceName(v string) error {
	if v == "" || v == "." || v == ".." || strings.HasPrefix(v, "-") {
		return fmt.Errorf("%q cannot name an instance directory", v)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return fmt.Errorf("%q: use letters, digits, '-', '_' and '.' only", v)
		}
	}
	return nil
}

// checkBlockName accepts a vdmap block name: a word without ':', which
// would end the name in the block's property lines.
func checkBlockName(_ *session, v string) error {
	if v == "" || strings.ContainsAny(v, " \t:#") {
		return fmt.Errorf("%q: one word, without ':' or '#'", v)
	}
	return nil
}

func checkIP(_ *session, v string) error {
	if _, err := netip.ParseAddr(v); err != nil {
		return fmt.Errorf("%q is not an IP address", v)
	}
	return nil
}

// checkComps accepts a certmap.conf component list: attribute names, or
// FROM=TO pairs, separated by commas (docs/reference.md §3.7).
func checkComps(_ *session, v string) error {
	for _, c := range strings.Split(v, ",") {
		for _, a := range strings.Split(strings.TrimSpace(c), "=") {
			if _, err := param.UidAttr.Check(a); err != nil {
				return err
			}
		}
	}
	return nil
}
