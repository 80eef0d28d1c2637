// Package mangen renders the man pages in docs/man from the parameter
// table, so that the parameter sections never drift from the code. The
// prose of each page is written here; every list of parameters, options,
// environment variables and defaults is generated. Output is deterministic
// (a fixed date) so that a test can compare it with the checked-in pages.
package mangen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/openmmp/mmp/daemon"
	"github.com/openmmp/mmp/legacy"
	"github.com/openmmp/mmp/param"
)

// Date is printed in every page footer; change it when pages change meaning.
const Date = "2026-11-23"

const source = "openmmp"

// Pages returns every man page by file name (e.g. "ImapProxy.8").
func Pages() map[string]string {
	pages := map[string]string{}
	for _, fe := range []struct {
		name string
		svc  param.Where
	}{{"ImapProxy", param.IMAP}, {"PopProxy", param.POP}, {"SmtpProxy", param.SMTP}} {
		pages[fe.name+".8"] = frontEndPage(fe.name, fe.svc)
	}
	pages["AService.8"] = aservicePage()
	for _, ctx := range []param.Where{param.AService, param.IMAP, param.POP, param.SMTP} {
		pages[ctx.FileName()+".5"] = cfgPage(ctx)
	}
	pages["vdmap.5"] = vdmapPage()
	pages["certmap.conf.5"] = certmapPage()
	pages["ImapMMP.config.5"] = n4ConfigPage()
	instancePages(pages)
	pages["mmp-setup.8"] = setupPage()
	return pages
}

// page accumulates troff.
type page struct{ strings.Builder }

func (p *page) th(name, section, title string) {
	fmt.Fprintf(p, ".TH %s %s %s %s %q\n", esc(name), section, Date, source, title)
}
func (p *page) sh(title string)      { fmt.Fprintf(p, ".SH %s\n", title) }
func (p *page) ss(title string)      { fmt.Fprintf(p, ".SS %s\n", esc(title)) }
func (p *page) pp()                  { p.WriteString(".PP\n") }
func (p *page) text(s string)        { p.WriteString(esc(s) + "\n") }
func (p *page) raw(s string)         { p.WriteString(s + "\n") }
func (p *page) tp(tag, s string)     { fmt.Fprintf(p, ".TP\n%s\n%s\n", tag, esc(s)) }
func (p *page) bold(s string) string { return `\fB` + esc(s) + `\fR` }
func (p *page) example(lines ...string) {
	p.raw(".RS 4\n.nf")
	for _, l := range lines {
		p.text(l)
	}
	p.raw(".fi\n.RE")
}

// esc escapes text for troff: backslashes, and dots or quotes that would
// start a request at the beginning of a line.
func esc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// paramList writes one .TP entry per parameter.
func (p *page) paramList(ps []*param.Param, ctx param.Where, envNames bool) {
	group := ""
	for _, q := range ps {
		if q.Group != group {
			group = q.Group
			p.ss(group)
		}
		name := q.Name
		if envNames {
			name = q.EnvName()
		}
		tag := p.bold(name) + " " + `\fI` + esc(q.Type) + `\fR`
		var b strings.Builder
		b.WriteString(q.Doc)
		if d := q.DefaultFor(ctx); d != "" {
			fmt.Fprintf(&b, " Default: %s.", d)
		}
		if len(q.Aliases) > 0 {
			fmt.Fprintf(&b, " Also accepted: %s.", strings.Join(q.Aliases, ", "))
		}
		if q.Deprecated != "" {
			fmt.Fprintf(&b, " Deprecated: %s.", q.Deprecated)
		}
		if q.AtStart {
			b.WriteString(" " + param.AtStartNote)
		}
		if q.Where&param.VDMap != 0 && ctx != param.VDMap {
			b.WriteString(" May be set per virtual domain in the vdmap file.")
		}
		p.tp(tag, b.String())
	}
}

func frontEndPage(name string, svc param.Where) string {
	var p page
	proto := map[param.Where]string{param.IMAP: "IMAP4", param.POP: "POP3", param.SMTP: "SMTP submission"}[svc]
	p.th(name, "8", "Messaging Multiplexor")
	p.sh("NAME")
	p.text(name + " - " + proto + " Messaging Multiplexor with the Netscape 4.x command line")
	p.sh("SYNOPSIS")
	p.raw(p.bold(name) + ` [\fBinstall\fR] [\fIoptions\fR]`)
	p.raw(".br\n" + p.bold(name) + ` \fB\-h\fR`)
	script := strings.TrimSuffix(name, "Proxy") + "MMP"
	p.sh("DESCRIPTION")
	if svc == param.SMTP {
		p.text(name + " accepts SMTP submission clients and hands each session to one of the SmtpRelays, the MTAs that deliver the mail, telling the relay who the client is (XPEHLO, or XCLIENT or PROXY, see SmtpRelayAnnounce). It logs in to no store: SMTP AUTH goes to the relay, or is checked in the directory with SmtpAuth directory, and the directory is also read for access filters and client certificates. It offloads TLS and serves POP-before-SMTP (PopBeforeSmtpKludgeChannel). The Netscape Multiplexor 4.x had no SMTP proxy; " + name + " is the Sun SmtpProxyAService module with the command line of ImapProxy(8) and PopProxy(8), so that an instance can start all three the same way, with an " + script + " script and " + script + ".config.")
	} else {
		p.text(name + " accepts " + proto + " clients, looks each user up in the directory to find the user's mail store, logs in to that store on the user's behalf, and from then on passes bytes both ways unchanged. It takes the options of the Netscape Messaging Multiplexor 4.x exactly as documented, so that existing " + script + " scripts run unchanged.")
	}
	p.pp()
	p.text("Each option is one word: -ps is the SSL listening port, never -p followed by -s. With install, the options given are printed as " + script + ".config lines and nothing is started. With -h alone, every parameter is listed with its effective value and where that value came from; -h followed by a host names the directory server.")
	p.pp()
	p.text("An option of another of ImapProxy, PopProxy and SmtpProxy (-x or -a given to PopProxy, -m given to ImapProxy) is ignored with a warning on standard error, as the other program's environment variables are, so that one option set can serve both programs of an instance.")
	p.pp()
	p.text("Values come, in increasing order of precedence, from the built-in default, the file given with --config (an ImapMMP.config(5) or a Sun *AService.cfg(5)), the environment (the Netscape variables, and the parameters by their Sun names), and the command line.")
	p.sh("OPTIONS")
	var flagged []*param.Param
	for _, q := range param.All() {
		if q.Flag != "" && legacy.Applies(q, svc) {
			flagged = append(flagged, q)
		}
	}
	sort.SliceStable(flagged, func(i, j int) bool { return strings.ToLower(flagged[i].Flag) < strings.ToLower(flagged[j].Flag) })
	for _, q := range flagged {
		switch q.Flag {
		case "-pre":
			p.tp(p.bold(q.Flag), q.Doc+" Sets "+q.EnvName()+".")
		case "-h":
			p.tp(p.bold(q.Flag)+` [\fI`+esc(q.Type)+`\fR]`, q.Doc+" Sets "+q.EnvName()+". Alone (last, or followed by another option): list every parameter with its value and origin, and exit.")
		default:
			p.tp(p.bold(q.Flag)+" "+`\fI`+esc(q.Type)+`\fR`, q.Doc+" Sets "+q.EnvName()+".")
		}
	}
	var six []string
	for _, q := range legacy.SSLArgs {
		six = append(six, `\fI`+esc(q.EnvName())+`\fR`)
	}
	p.tp(p.bold("-s")+" "+strings.Join(six, " "), `Enable SSL and set the six SSL parameters in this order; give "" for an empty one.`)
	p.tp(p.bold("-n")+` \fIinstance\fR`, "Windows NT service instance name; accepted and ignored.")
	p.tp(p.bold("install"), "Print the options as NAME=value; export NAME lines for "+script+".config and exit without starting.")
	p.tp(p.bold("--config")+` \fIfile\fR`, "Read an ImapMMP.config-style file, or a *AService.cfg, before the environment.")
	p.tp(p.bold("--")+`\fIName\fR \fIvalue\fR`, "Set any parameter of the table below by its Sun 6 name.")
	p.tp(p.bold("--help"), "Print a usage summary.")
	p.sh("PARAMETERS")
	var ps []*param.Param
	for _, q := range param.All() {
		if legacy.Applies(q, svc) {
			ps = append(ps, q)
		}
	}
	p.paramList(ps, svc|param.N4, false)
	p.sh("ENVIRONMENT")
	p.text("The Netscape environment variables, read when the option is not given:")
	var envs []string
	for _, q := range ps {
		if q.Where&param.N4 != 0 {
			envs = append(envs, q.EnvName())
		}
	}
	p.pp()
	p.text(strings.Join(envs, ", ") + ".")
	p.text("Names are matched without regard to case. Every other parameter of the list above is read from the environment too, by its name spelled as there (Timeout, not TIMEOUT): the lines install prints for --Name options work when an ImapMMP script exports them.")
	p.sh("PRIVILEGES")
	p.text("Started as root, " + name + " opens its listening ports first (ports below 1024 need root) and then switches to BeTheUser and BeTheGroup, set like any other parameter: in ImapMMP.config, where mmp-setup --n4 writes the user it asked for, in the environment, or with --BeTheUser. Without BeTheUser it logs a warning and runs on as root.")
	p.sh("SIGNALS")
	p.tp(p.bold("SIGHUP"), "Refresh: read the --config file again, with the environment and command line as they were at start (they cannot change), and apply it as AService(8) does: a configuration with errors is logged and refused, the running one kept; otherwise sessions already open keep their settings and new ones get the new settings.")
	p.tp(p.bold("SIGTERM")+", "+p.bold("SIGINT"), fmt.Sprintf("Stop accepting connections, let sessions go on for %v, then close them and exit.", daemon.ShutdownGrace))
	exitStatus(&p)
	p.sh("EXAMPLES")
	port, sslPort := param.ListenPort.DefaultFor(svc|param.N4), param.SSLListenPort.DefaultFor(svc|param.N4)
	relays := ""
	if svc == param.SMTP {
		port = "587" // submission
		relays = ` --SmtpRelays "sesta:485 gonzo" --SmtpProxyPassword A_Password`
	}
	p.example(name+" install -h ldap.airius.com:389 -b o=airius.com -p "+port+" -t 2",
		name+" -p 10.0.0.5:"+port+" -h ldap:389 -b o=internet -D cn=mmp,o=internet -w secret"+relays,
		name+" -s \"\" cert7.db key3.db \"\" all Server-Cert -ps "+sslPort)
	p.sh("SEE ALSO")
	p.raw(`\fBAService\fR(8), \fBImapMMP.config\fR(5), \fB` + esc(svc.FileName()) + `\fR(5), \fBvdmap\fR(5), \fBcertmap.conf\fR(5)`)
	return p.String()
}

func exitStatus(p *page) {
	p.sh("EXIT STATUS")
	p.tp(fmt.Sprint(daemon.ExitOK), "Success; for a check, no errors (warnings may have been printed).")
	p.tp(fmt.Sprint(daemon.ExitConfig), "The configuration has errors; each was printed as file:line: Parameter: message.")
	p.tp(fmt.Sprint(daemon.ExitUsage), "The command line is wrong.")
	p.tp(fmt.Sprint(daemon.ExitRuntime), "The service could not run, for example a port could not be bound.")
}

func aservicePage() string {
	var p page
	p.th("AService", "8", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("AService - Messaging Multiplexor daemon running every service of an instance")
	p.sh("SYNOPSIS")
	p.raw(p.bold("AService") + ` [\fB\-c\fR \fIdir\fR] [\fB\-check\fR] [\fB\-f\fR] [\fB\-\-log\-stderr\fR] [\fB\-pidfile\fR \fIfile\fR]`)
	p.sh("DESCRIPTION")
	p.text("AService reads dir/AService.cfg and starts every protocol module of its ServiceList (IMAP, POP and SMTP proxies) in one process, each with its own configuration file, as the Sun Java System Messaging Multiplexor did. A missing X.cfg is created from X-def.cfg, and a missing X-def.cfg from the built-in template.")
	p.sh("OPTIONS")
	p.tp(p.bold("-c")+` \fIdir\fR, `+p.bold("--config")+` \fIdir\fR`, "Instance configuration directory; default ./config.")
	p.tp(p.bold("-check"), "Validate every file of the instance and exit. Each problem is printed as file:line: Parameter: message, errors and warnings alike; unknown parameters get a suggestion. Nothing is written. The check judges with the daemon's own code: an error is what would make AService refuse to start (a value that does not parse, a missing file, a configuration file with no setting, an empty ServiceList, a certmap.conf the proxy could not follow, SSL that cannot be set up, a BeTheUser or BeTheGroup the system does not know when run as root); a warning is what AService runs with (an unknown or misplaced parameter, which it ignores). Run it as the user who starts AService. It does not try the ports or file permissions.")
	p.tp(p.bold("-f")+", "+p.bold("--foreground"), "Accepted for systemd units and scripts: AService always runs in the foreground and never detaches. start-msg(8) is what runs it in the background.")
	p.tp(p.bold("--log-stderr"), "Write every log line to standard error as well as to the log files, for the systemd journal and containers.")
	p.tp(p.bold("-pidfile")+` \fIfile\fR`, "Write the process id to file once every listening port is open, and remove the file at exit; start-msg(8) takes its appearance as the sign that the MMP is ready.")
	p.sh("PRIVILEGES")
	p.text("Started as root, AService opens every listening port first (ports below 1024 need root) and then switches to BeTheUser and BeTheGroup of AService.cfg, giving that user the directories of the pid file and refresh status file. Without BeTheUser it logs a warning and runs on as root. Log files are opened before the switch; on refresh they are re-opened as BeTheUser, so LogDir should belong to that user. A new privileged port added by a refresh cannot be opened after the switch. The systemd unit shows the alternative: run as the mail user with CAP_NET_BIND_SERVICE.")
	p.sh("SIGNALS")
	p.tp(p.bold("SIGHUP"), "Refresh (refresh(8)): re-read every file of the instance (the *.cfg files, vdmap, certmap.conf, ConnLimits and BGExcluded files). Each file is read once it has stopped changing (a file being written is read again after 100 ms, and refused if it keeps changing). A configuration with errors is refused and the running one kept, each error logged as file:line: Parameter: message, and so is one that would weaken a running service without saying so (see refresh(8)): a port that served TLS greeting in clear text, a file that sets none of what it set, a guard such as RestrictPlainPasswords that lost its line. Otherwise its warnings are logged (at LogLevel 1 too), sessions already open keep their settings and new ones get the new settings; listening addresses and services added to ServiceList are opened, removed ones closed (their sessions go on); logs are re-opened with the new LogDir and LogLevel; the AService log gets, at LogLevel 1 too, a line \"refreshed:\" with a summary and a line per change. If dir/run exists the outcome is also written to dir/run/AService-pid.refresh.")
	p.tp(p.bold("SIGTERM")+", "+p.bold("SIGINT"), fmt.Sprintf("Stop accepting connections, let sessions go on for %v, then close them and exit (stop-msg(8)). A second signal ends the process at once.", daemon.ShutdownGrace))
	exitStatus(&p)
	p.sh("FILES")
	for _, ctx := range []param.Where{param.AService, param.IMAP, param.POP, param.SMTP} {
		p.tp(esc(ctx.FileName()), "and its template "+strings.TrimSuffix(ctx.FileName(), ".cfg")+"-def.cfg; see "+ctx.FileName()+"(5).")
	}
	p.sh("SEE ALSO")
	p.raw(`\fBAService.cfg\fR(5), \fBImapProxyAService.cfg\fR(5), \fBPopProxyAService.cfg\fR(5), \fBSmtpProxyAService.cfg\fR(5), \fBvdmap\fR(5), \fBImapProxy\fR(8), \fBstart\-msg\fR(8), \fBstop\-msg\fR(8), \fBrefresh\fR(8)`)
	return p.String()
}

func cfgPage(ctx param.Where) string {
	var p page
	file := ctx.FileName()
	p.th(file, "5", "Messaging Multiplexor")
	p.sh("NAME")
	p.text(file + " - " + map[param.Where]string{param.AService: "daemon-wide", param.IMAP: "IMAP proxy", param.POP: "POP proxy", param.SMTP: "SMTP proxy"}[ctx] + " settings of the Messaging Multiplexor")
	p.sh("DESCRIPTION")
	p.text("One setting per line: section:Name value (blanks after the colon are allowed: default: EhloKeywords TURN). The section is default, or the SECTION of a ServiceList entry INSTANCE:SECTION, whose lines override the default ones. Everything after the white space that follows the name is the value; double quotes are removed and are needed for an empty value (\"\") or one with leading or trailing blanks. Lines starting with # are comments. Names match without regard to case; if a name is set twice in a section, the last line wins. There is no continuation line.")
	p.pp()
	p.text("When " + file + " is missing at start-up it is created from " + strings.TrimSuffix(file, ".cfg") + "-def.cfg; edit " + file + ", since templates are rewritten on upgrade. AService -check reports every mistake as file:line: Parameter: message.")
	if ctx == param.AService {
		p.pp()
		p.text(`In ServiceList, DLLNAME names the module: ImapProxyAService, PopProxyAService or SmtpProxyAService, or their Sun 7.x names imapproxy, popproxy and submitproxy; letter case, a directory (Unix or Windows, as in C:\Sun\lib\ImapProxyAService) and a .so or .dll suffix do not matter. INSTANCE defaults to the Sun 6 name of the module, so imapproxy@143 reads ImapProxyAService.cfg.`)
	}
	p.sh("PARAMETERS")
	p.paramList(param.In(ctx), ctx, false)
	p.sh("EXAMPLE")
	p.example(strings.Split(strings.TrimSpace(exampleFor(ctx)), "\n")...)
	p.sh("SEE ALSO")
	p.raw(`\fBAService\fR(8), \fBvdmap\fR(5), \fBcertmap.conf\fR(5)`)
	return p.String()
}

func exampleFor(ctx param.Where) string {
	switch ctx {
	case param.AService:
		return "default:ServiceList /opt/SUNWmsgsr/lib/ImapProxyAService@143|993 /opt/SUNWmsgsr/lib/PopProxyAService@110\ndefault:NumThreads 4\ndefault:BeTheUser mailsrv\ndefault:LogDir /var/log/openmmp"
	case param.POP:
		return "default:LdapUrl ldap://phonebook.siroe.com/o=internet\ndefault:BindDN \"cn=Directory Manager\"\ndefault:BacksidePort 110\ndefault:SpoofMessageFile /etc/openmmp/spoof.txt"
	case param.SMTP:
		return "default:SmtpRelays sesta:485 gonzo mothra\ndefault:SmtpProxyPassword A_Password\ndefault:PopBeforeSmtpKludgeChannel tcp_intranet\ndefault:Timeout 600"
	}
	return "default:LdapUrl \"ldap://ldap1 ldap2/o=internet\"\ndefault:BindDN \"cn=Directory Manager\"\ndefault:BindPass secret\ndefault:VirtualDomainFile /etc/openmmp/vdmap.cfg\n#default:SSLEnable yes"
}

func vdmapPage() string {
	var p page
	p.th("vdmap", "5", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("vdmap - per-server-address settings of the Messaging Multiplexor (virtual domains)")
	p.sh("DESCRIPTION")
	p.text("The file named by VirtualDomainFile gives settings for connections that arrive on one server (local) address. A block starts with a line vdmap NAME IPADDR; the lines NAME:Property value (blanks may follow the colon) that follow set properties for that block and override the service's values. Comments, blank lines and quoting are as in the *.cfg files. A property of an undeclared NAME is reported and ignored.")
	p.sh("PROPERTIES")
	p.paramList(param.In(param.VDMap), param.VDMap, false)
	p.text("BindDN, BindPass, LdapCacheSize and LdapCacheTTL are ignored unless the block sets its own LdapUrl. VDomain (Netscape) is appended to every login name; DefaultDomain only to names without a domain.")
	p.sh("EXAMPLE")
	p.example("vdmap siroe 192.168.10.5", "siroe:DefaultDomain siroe.com", "siroe:PreAuth yes", "", "vdmap varrius 192.168.10.6", "varrius:DefaultDomain varrius.com", "varrius:LdapUrl \"ldap://ldap1.varrius.com ldap2.varrius.com/o=internet\"")
	p.sh("SEE ALSO")
	p.raw(`\fBImapProxyAService.cfg\fR(5), \fBPopProxyAService.cfg\fR(5)`)
	return p.String()
}

func certmapPage() string {
	var p page
	p.th("certmap.conf", "5", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("certmap.conf - mapping of client certificates to directory users")
	p.sh("DESCRIPTION")
	p.text("Each map starts with certmap NAME ISSUER-DN; the first must be certmap default default. Properties are written NAME:Property value.")
	p.tp(p.bold("DNComps"), "Subject-DN attributes that build the search base; empty searches the whole tree; absent uses the subject DN as the entry DN. The MMP form FROMATTR=TOATTR takes the value of FROMATTR and uses it as TOATTR.")
	p.tp(p.bold("FilterComps"), "Subject-DN attributes that build the filter (&(a=v)...); FROMATTR=TOATTR as above.")
	p.tp(p.bold("verifycert"), "on: also compare the certificate with the entry's userCertificate.")
	p.tp(p.bold("CmapLdapAttr"), "Search for entries whose attribute equals the subject DN.")
	p.text("The library and InitFn properties (plug-ins) are not supported.")
	p.sh("EXAMPLE")
	p.example("certmap default default", "default:DNComps", "default:FilterComps e=mail", "certmap siroeca ou=Siroe CA, o=siroe.com, c=US", "siroeca:FilterComps ou=uid", "siroeca:verifycert off")
	p.sh("SEE ALSO")
	p.raw(`\fBImapProxyAService.cfg\fR(5)`)
	return p.String()
}

func n4ConfigPage() string {
	var p page
	p.th("ImapMMP.config", "5", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("ImapMMP.config, PopMMP.config - Netscape 4.x Multiplexor instance settings")
	p.sh("DESCRIPTION")
	p.text("Bourne-shell assignments sourced by the ImapMMP and PopMMP start scripts, one NAME=value; export NAME per line, with # comments. ImapProxy(8) and PopProxy(8) read the same file with --config. The output of ImapProxy install is in this form.")
	p.pp()
	p.text("The Netscape variables are listed below. Any other parameter of the program may be set the same way by its Sun name, spelled as in ImapProxy(8), for example HostedDomains=yes; export HostedDomains.")
	p.sh("VARIABLES")
	var ps []*param.Param
	for _, q := range param.All() {
		if q.Where&param.N4 != 0 {
			ps = append(ps, q)
		}
	}
	p.paramList(ps, param.IMAP|param.N4, true)
	p.sh("EXAMPLE")
	p.example("LDAPHost=ldap.airius.com:389; export LDAPHost", "BaseDN=\"o=airius.com\"; export BaseDN", "ListenPort=143; export ListenPort")
	p.sh("SEE ALSO")
	p.raw(`\fBImapProxy\fR(8), \fBPopProxy\fR(8)`)
	return p.String()
}
