package mangen

import (
	"fmt"
	"strings"

	"github.com/openmmp/mmp/instance"
	"github.com/openmmp/mmp/param"
)

// instancePages are start-msg(8), stop-msg(8) and refresh(8). Their exit
// codes come from package instance, so that page and code cannot differ.
func instancePages(pages map[string]string) {
	pages["start-msg.8"] = startMsgPage()
	pages["stop-msg.8"] = stopMsgPage()
	pages["refresh.8"] = refreshPage()
	pages["imsconnutil.8"] = connUtilPage()
}

func (p *page) instanceSynopsis(name string, extra string) {
	p.sh("SYNOPSIS")
	p.raw(p.bold(name) + ` [\fB\-\-root\fR \fIdir\fR]` + extra + ` [\fB\-\-wait\fR \fIduration\fR] \fBmmp\fR [\fIinstance\fR]`)
}

// instanceText is the paragraph on how the instance is chosen, shared by
// the three pages.
func (p *page) instanceText(name string) {
	p.pp()
	p.text("The first argument must be mmp. Sun's " + name + " also took imap, pop, http, smtp, store and the other Messaging Server components; openmmp is the Messaging Multiplexor alone and refuses those words with exit status " + fmt.Sprint(instance.ExitUsage) + ".")
	p.pp()
	p.text("The instance is the directory root/instance holding AService.cfg, where mmp-setup(8) writes it. The root is --root, else the environment variable OPENMMP_ROOT, else " + instance.DefaultRoot + ". The instance may be left out when the root holds exactly one; an instance containing a slash is taken as a directory.")
}

func (p *page) instanceOptions(start bool, wait string) {
	p.sh("OPTIONS")
	p.tp(p.bold("--root")+` \fIdir\fR`, "Instance root directory.")
	if start {
		p.tp(p.bold("--aservice")+` \fIpath\fR`, "The AService binary to run. Default: AService in the directory of this program, else AService on PATH.")
	}
	p.tp(p.bold("--wait")+` \fIduration\fR`, "How long to wait for the daemon, as a Go duration (30s, 2m). Default: "+wait+".")
	p.tp(p.bold("-h")+", "+p.bold("--help"), "Print a short help and exit.")
}

func (p *page) instanceEnvironment() {
	p.sh("ENVIRONMENT")
	p.tp(p.bold("OPENMMP_ROOT"), "Instance root when --root is not given.")
}

func startMsgPage() string {
	var p page
	p.th("start-msg", "8", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("start-msg - start a Messaging Multiplexor instance in the background")
	p.instanceSynopsis("start-msg", ` [\fB\-\-aservice\fR \fIpath\fR]`)
	p.sh("DESCRIPTION")
	p.text("start-msg mmp starts AService(8) for an instance in the background, even if one is already running for it, as Sun's start-msg was documented to do. It runs AService -c dir -pidfile dir/run/AService-N.pid in a new session, with standard input from /dev/null and standard output and error appended to dir/" + instance.OutFile + ", records the new process id at the end of dir/" + instance.PidsFile + ", and waits.")
	p.pp()
	p.text("AService writes its pid file only once every port of its ServiceList is open, so when start-msg prints the process id the MMP accepts connections. If AService exits first, for example because the configuration has errors or a port is taken, start-msg prints what it wrote (each configuration error as file:line: Parameter: message), removes its pid from " + instance.PidsFile + " and exits with status " + fmt.Sprint(instance.ExitFailed) + ".")
	p.pp()
	p.text("AService itself never detaches from its terminal; start-msg is what puts it in the background. Under systemd use the unit openmmp@.service instead (systemctl start openmmp@instance).")
	p.instanceText("start-msg")
	p.instanceOptions(true, "60s")
	p.sh("EXIT STATUS")
	p.tp(fmt.Sprint(instance.ExitOK), "The daemon is listening on every port; its process id was printed on standard output.")
	p.tp(fmt.Sprint(instance.ExitFailed), "The daemon exited before it was listening (its messages were printed), was not listening within the wait (it is left running), or could not be run.")
	p.tp(fmt.Sprint(instance.ExitUsage), "The command line is wrong: not mmp, no such instance, or several instances and none named.")
	p.instanceEnvironment()
	instanceFiles(&p)
	p.sh("EXAMPLES")
	p.example("$ start-msg mmp east", "48213", "$ OPENMMP_ROOT=/srv/mmp start-msg mmp")
	seeAlso(&p, "stop-msg", "refresh")
	return p.String()
}

func stopMsgPage() string {
	var p page
	p.th("stop-msg", "8", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("stop-msg - stop the most recently started Messaging Multiplexor of an instance")
	p.instanceSynopsis("stop-msg", "")
	p.sh("DESCRIPTION")
	p.text("stop-msg mmp sends SIGTERM to the most recently started AService of the instance that still runs: the last live process id in dir/" + instance.PidsFile + ", as Sun's stop-msg stopped the most recently started MMP. A process id is taken as the instance's only while that process names the instance directory on its command line, so a pid reused by another program is never signalled.")
	p.pp()
	p.text(fmt.Sprintf("AService stops accepting connections at once and lets open sessions go on for %v, then closes them. stop-msg waits for the process to exit, by default the grace period plus %v, and then removes it and any dead process ids from %s. Run it again to stop an older daemon of the same instance.", instance.ShutdownGrace, instance.StopMargin, instance.PidsFile))
	p.instanceText("stop-msg")
	p.instanceOptions(false, (instance.ShutdownGrace + instance.StopMargin).String())
	p.sh("EXIT STATUS")
	p.tp(fmt.Sprint(instance.ExitOK), "The daemon has exited.")
	p.tp(fmt.Sprint(instance.ExitFailed), "The daemon could not be signalled, or still runs after the wait.")
	p.tp(fmt.Sprint(instance.ExitUsage), "The command line is wrong: not mmp, no such instance, or several instances and none named.")
	p.tp(fmt.Sprint(instance.ExitNotRunning), "No AService of the instance is running.")
	p.instanceEnvironment()
	instanceFiles(&p)
	p.sh("EXAMPLES")
	p.example("$ stop-msg mmp east", "mmp (/opt/openmmp/east) pid 48213 stopped")
	seeAlso(&p, "start-msg", "refresh")
	return p.String()
}

func refreshPage() string {
	var p page
	p.th("refresh", "8", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("refresh - make a running Messaging Multiplexor re-read its configuration")
	p.instanceSynopsis("refresh", "")
	p.sh("DESCRIPTION")
	p.text("refresh mmp sends SIGHUP to every running AService of the instance. Each re-reads every file of the instance with the same rules as at start: the *.cfg files, the vdmap file, certmap.conf and the ConnLimits and BGExcluded files. Sessions already open keep running with the settings they started with; new sessions get the new ones. Listening addresses added to ServiceList are opened, removed ones closed (their sessions go on); services added are started, removed ones stop accepting and end once their sessions have. Log files are re-opened with the new LogDir and LogLevel. BadGuys penalties and per-address connection counts are kept.")
	p.pp()
	var atStart []string
	for _, q := range param.All() {
		if q.AtStart {
			atStart = append(atStart, q.Name)
		}
	}
	p.text("These parameters are read only when the daemon starts: " + strings.Join(atStart, ", ") + ". A refresh lists a change of one of them with the value the running daemon keeps until it is restarted.")
	p.pp()
	p.text("A configuration with errors is refused as a whole: the daemon keeps the previous one, logs each error, and refresh prints them as file:line: Parameter: message and exits with status " + fmt.Sprint(instance.ExitFailed) + ".")
	p.pp()
	p.text("A refresh never silently weakens a running service. A file being written when the signal arrives is read again after 100 ms until it stops changing, and refused if it keeps changing for about a second; a file with no setting is an error. Compared with the running configuration, the refresh is refused where a file now sets none of the parameters the running configuration took from it, where a port that served TLS from the first byte would greet in clear text, and where SSLEnable, RestrictPlainPasswords, SSLBacksidePort or TCPAccess lost their line and would fall back to a weaker default. To turn such a setting off, write it: SSLEnable no, SSLPorts without the port, RestrictPlainPasswords no.")
	p.pp()
	p.text("A configuration applied with warnings (a misspelt parameter, which is ignored) is refreshed; refresh prints each warning under the daemon's line, and the AService log records them even at LogLevel 1.")
	p.pp()
	p.text("An applied refresh lists what changed, one line each: services added or removed, listening addresses opened or closed, a listener turned from TLS to clear text or back, each parameter with its old and new value (a password by name only). refresh prints the list under the daemon's line, and the AService log records the outcome and the list at Error level, which LogLevel 1 keeps. A refused refresh logs its reasons as errors and the warnings of the file as warnings.")
	p.pp()
	p.text("refresh waits for each daemon to write the outcome to dir/run/AService-pid.refresh (ok: refreshed: summary, or failed: reason, followed by what changed, the errors and the warnings), which AService does when dir/run exists, as it does for every daemon started by start-msg(8). A daemon started otherwise can be refreshed with kill -HUP; it logs the outcome in its AService log.")
	p.instanceText("refresh")
	p.instanceOptions(false, "30s")
	p.sh("EXIT STATUS")
	p.tp(fmt.Sprint(instance.ExitOK), "Every daemon of the instance refreshed.")
	p.tp(fmt.Sprint(instance.ExitFailed), "A daemon refused the new configuration (it keeps the previous one), could not apply part of it (a new port could not be bound), or did not answer within the wait.")
	p.tp(fmt.Sprint(instance.ExitUsage), "The command line is wrong: not mmp, no such instance, or several instances and none named.")
	p.tp(fmt.Sprint(instance.ExitNotRunning), "No AService of the instance is running.")
	p.instanceEnvironment()
	instanceFiles(&p)
	p.sh("EXAMPLES")
	p.example("$ refresh mmp east",
		"pid 48213: ok: refreshed: 2 service(s): 2 updated, 0 added, 0 removed; listeners: 1 opened, 0 closed",
		"  ImapProxy(ImapProxyAService.cfg): listening on 10.0.0.5:143 (new)",
		"  ImapProxy(ImapProxyAService.cfg): Timeout: \"1800\" (default) -> \"900\"",
		"  ImapProxyAService.cfg:31: ClientTimeout: unknown parameter (did you mean Timeout?); ignored (warning)",
		"$ refresh mmp east",
		"pid 48213: failed: the configuration has errors; the previous configuration is kept",
		"  /opt/openmmp/east/ImapProxyAService.cfg:7: Timeout: ...",
		"refresh: mmp (/opt/openmmp/east): 1 of 1 refresh(es) failed")
	seeAlso(&p, "start-msg", "stop-msg")
	return p.String()
}

func instanceFiles(p *page) {
	p.sh("FILES")
	p.tp(esc("dir/AService.cfg"), "The instance's daemon configuration; see AService.cfg(5).")
	p.tp(esc("dir/"+instance.PidsFile), "Process ids of the daemons start-msg started, oldest first; stop-msg and refresh remove those that are gone.")
	p.tp(esc("dir/run/AService-N.pid"), "Written by AService once every port is open; removed when it exits.")
	p.tp(esc("dir/run/AService-pid.refresh"), "Outcome of the last refresh of that daemon.")
	p.tp(esc("dir/"+instance.OutFile), "Standard output and error of the daemons start-msg started.")
	p.tp(esc("openmmp@.service"), "systemd template unit, an alternative to these commands (dist/systemd in the sources).")
}

func seeAlso(p *page, others ...string) {
	p.sh("SEE ALSO")
	s := ""
	for _, o := range others {
		s += `\fB` + esc(o) + `\fR(8), `
	}
	p.raw(s + `\fBAService\fR(8), \fBAService.cfg\fR(5), \fBmmp\-setup\fR(8), \fBsystemctl\fR(1)`)
}
