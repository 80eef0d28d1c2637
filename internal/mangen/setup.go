package mangen

import (
	"fmt"

	"github.com/openmmp/mmp/setup"
)

// setupPage is mmp-setup(8). Its table of answer keys comes from package
// setup, which generates it from the questions themselves.
func setupPage() string {
	var p page
	p.th("mmp-setup", "8", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("mmp-setup - create or change a Messaging Multiplexor instance")
	p.sh("SYNOPSIS")
	p.raw(p.bold("mmp-setup") + ` [\fB\-\-n4\fR] [\fB\-\-answers\fR \fIfile\fR] [\fB\-\-write\-answers\fR \fIfile\fR [\fB\-\-with\-passwords\fR]]`)
	p.sh("DESCRIPTION")
	p.text("mmp-setup asks the questions of the Netscape Messaging Multiplexor installer: run-as user, installation directory (default " + setup.DefaultRoot + "), new or existing instance, instance name (default: the host name), service (1 IMAP, 2 POP3, 3 both, 4 IMAP, POP3 and SMTP submission), then LDAP Host, Base DN, LogDir, Log Level, bind DN and password, Number of Threads, listening and store ports, CAPABILITY, banner, LDAP search string, replay attribute, mail host attributes, virtual domain mapping, delimiters, POP3 spoof message, Server Down Alert, SSL for each proxy (PEM certificate and key, key password), client-certificate login (CA file, StoreAdmin, certmap.conf) and PreAuth.")
	p.pp()
	p.text("Every answer is checked with the grammar of its parameter and asked again with the error. A summary follows, passwords masked; n goes through the questions again with the answers as defaults. mmp-setup then offers to test the LDAP settings (bind and read the base DN) and writes only on the user's word if that fails.")
	p.pp()
	p.text("A new instance gets AService.cfg and the *AService.cfg files made from their templates, or with --n4 ImapMMP.config, PopMMP.config and their start scripts. The run-as user is BeTheUser, in AService.cfg or in each *MMP.config: the program started as root opens its ports and then runs as that user. An existing instance is edited in place, keeping comments and every setting not answered. Finally the instance is checked as the daemon would load it, and the command that starts it is printed.")
	p.pp()
	p.text("On a terminal the questions use menus and hidden passwords; otherwise one line is read per question from standard input, an empty line taking the default, so mmp-setup < answers.txt works in scripts.")
	p.sh("OPTIONS")
	p.tp(p.bold("--answers")+` \fIfile\fR`, "Take the answers from a properties file (a silent install).")
	p.tp(p.bold("--write-answers")+` \fIfile\fR`, "Record the accepted answers, mode 0600.")
	p.tp(p.bold("--with-passwords"), "Include passwords in the recorded answers; without it they are left out.")
	p.tp(p.bold("--n4"), "Write Netscape 4.x files for a new instance.")
	p.sh("ANSWERS FILE")
	p.text("key = value lines, Java properties syntax without ${} expansion. Missing keys take their defaults; a y/n key is implied by a key it leads to.")
	for _, k := range setup.AnswerKeyTable() {
		p.tp(p.bold(k.Key), fmt.Sprintf("%s. Asked: %s.", k.Value, k.When))
	}
	p.sh("EXIT STATUS")
	p.tp(fmt.Sprint(setup.ExitOK), "Written; the configuration is clean (warnings allowed).")
	p.tp(fmt.Sprint(setup.ExitProblems), "Written, but the check found errors, printed as file:line: Parameter: message.")
	p.tp(fmt.Sprint(setup.ExitUsage), "Usage error, an invalid answer in a file, or the end of the input.")
	p.tp(fmt.Sprint(setup.ExitCancelled), "Cancelled (interrupt, confirm = n, or a failed LDAP test in an answers file); nothing written.")
	p.sh("FILES")
	p.text("root/instance/AService.cfg, ImapProxyAService.cfg, PopProxyAService.cfg, SmtpProxyAService.cfg, vdmap.cfg, certmap.conf, sslpassword.conf; with --n4 ImapMMP.config, PopMMP.config, SmtpMMP.config and the ImapMMP, PopMMP, SmtpMMP scripts.")
	p.sh("SEE ALSO")
	p.raw(`\fBAService\fR(8), \fBstart\-msg\fR(8), \fBImapProxy\fR(8), \fBAService.cfg\fR(5), \fBImapMMP.config\fR(5), \fBvdmap\fR(5), \fBcertmap.conf\fR(5)`)
	return p.String()
}
