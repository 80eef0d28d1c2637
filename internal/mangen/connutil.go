package mangen

import (
	"fmt"

	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/instance"
	"github.com/openmmp/mmp/proxy"
	"github.com/openmmp/mmp/who"
)

// connUtilPage is imsconnutil(8). Its exit codes, the socket's place and
// the bounds come from the packages that own them.
func connUtilPage() string {
	var p page
	p.th("imsconnutil", "8", "Messaging Multiplexor")
	p.sh("NAME")
	p.text("imsconnutil - who is connected to the Messaging Multiplexors, and ending a user's sessions")
	p.sh("SYNOPSIS")
	p.raw(p.bold("imsconnutil") + ` \fB\-c\fR|\fB\-a\fR [\fB\-s\fR \fIservice\fR] [\fB\-u\fR \fIuid\fR] [\fB\-f\fR \fIfile\fR] [\fB\-\-root\fR \fIdir\fR]`)
	p.pp()
	p.raw(p.bold("imsconnutil") + ` \fB\-k\fR {\fB\-u\fR \fIuid\fR | \fB\-f\fR \fIfile\fR} [\fB\-\-root\fR \fIdir\fR]`)
	p.sh("DESCRIPTION")
	p.text("imsconnutil is the Messaging Server command of the same name, for the Messaging Multiplexor: it lists the users logged in through the MMPs (-c), each user's last login and logout per service (-a), and ends a user's sessions on every MMP (-k), as an administrator does after a password change or a mailbox move. A kicked IMAP client reads the untagged reply * BYE " + proxy.KickReason + " before the connection closes; POP and SMTP clients are disconnected. The sessions end within a second.")
	p.pp()
	p.text("It answers for the whole fleet through its Redis when an instance under the root sets FleetRedis in AService.cfg: each MMP registers its logged-in sessions there, renews them every third of FleetLeaseTime (with the octet counts of that moment) and removes them when they end, so the sessions of an MMP that died vanish within FleetLeaseTime; -k is published on a channel every MMP listens to. Without FleetRedis it asks every AService of this machine: each instance directory under the root holds one admin socket per running AService, dir/run/AService-pid.sock, mode 0600 and owned by the MMP's user (BeTheUser), which refuses any other user; run imsconnutil as that user or as root. While the fleet's Redis cannot be reached, imsconnutil asks the AService processes of this machine instead, says so on the error output and exits with status " + fmt.Sprint(instance.ConnExitPartial) + ".")
	p.pp()
	p.text("A user is named as -c shows it: the canonical login, user@domain when the user has a domain (DefaultDomain, a hosted domain), in any letter case. An SMTP session is listed when its user authenticated (SMTP AUTH or POP-before-SMTP).")
	p.pp()
	p.text(fmt.Sprintf("Each MMP remembers the last access of at most %d users (those seen least recently are forgotten first); in Redis each user's record expires %d days after the last login or logout.", who.LastAccessSize, int(fleet.LastAccessTTL.Hours()/24)))
	p.sh("OPTIONS")
	p.tp(p.bold("-c")+", "+p.bold("--connected"), "List the logged-in sessions, one per line under a header: UID, SERVICE (imap, pop, smtp), CLIENT (address:port), STORE (the store's or relay's host:port), SINCE (the login, local time), FROM-CLIENT and FROM-STORE (octets so far), MMP (host/instance[pid]).")
	p.tp(p.bold("-a")+", "+p.bold("--access"), "List each user's last login and last logout per service: UID, SERVICE, LAST LOGIN, LAST LOGOUT (- for never). As with Sun's, -s does not narrow it.")
	p.tp(p.bold("-k")+", "+p.bold("--kick"), "End the sessions of the users named by -u or -f, on every MMP, and list the sessions ended.")
	p.tp(p.bold("-s")+` \fIservice\fR`, "With -c: only the sessions of this service, imap, pop or smtp.")
	p.tp(p.bold("-u")+` \fIuid\fR`, "Only this user. May be given more than once.")
	p.tp(p.bold("-f")+` \fIfile\fR`, "The users listed in file, one per line; blank lines and lines starting with # are skipped.")
	p.tp(p.bold("--root")+` \fIdir\fR`, "Instance root directory; every instance under it is asked. Default: the environment variable OPENMMP_ROOT, else "+instance.DefaultRoot+".")
	p.tp(p.bold("--timeout")+` \fIduration\fR`, "How long to wait for the answers, as a Go duration. Default: 10s.")
	p.tp(p.bold("-h")+", "+p.bold("--help"), "Print a short help and exit.")
	p.sh("EXIT STATUS")
	p.tp(fmt.Sprint(instance.ConnExitOK), "Every MMP asked answered (an empty list is an answer).")
	p.tp(fmt.Sprint(instance.ConnExitNoMMP), "No MMP answered: no AService runs under the root (no admin socket, or only those of stopped processes), or the fleet's Redis cannot be reached or knows no MMP. The message says which.")
	p.tp(fmt.Sprint(instance.ConnExitUsage), "The command line is wrong.")
	p.tp(fmt.Sprint(instance.ConnExitPartial), "Some MMPs answered and others failed (each failure is printed), or the fleet's Redis failed and only the MMPs of this machine answered: the output lacks the others.")
	p.instanceEnvironment()
	p.sh("FILES")
	p.tp(esc("dir/run/AService-pid.sock"), "The admin socket of a running AService; removed when it stops.")
	p.sh("EXAMPLES")
	p.example("$ imsconnutil -c",
		"UID                SERVICE  CLIENT            STORE             SINCE                FROM-CLIENT  FROM-STORE  MMP",
		"alice@example.com  imap     192.0.2.7:52114   10.0.1.11:143     2026-12-02 09:14:03  2817         1048213     mmp1/east[4242]",
		"bob@example.com    pop      192.0.2.9:40022   10.0.1.12:110     2026-12-02 09:20:41  57           9120        mmp2/east[3130]",
		"$ imsconnutil -k -u alice@example.com",
		"UID                SERVICE  CLIENT            MMP              DISCONNECTED",
		"alice@example.com  imap     192.0.2.7:52114   mmp1/east[4242]  yes",
		"1 session(s) ended on 2 MMP(s)",
		"$ imsconnutil -a -u bob@example.com",
		"UID              SERVICE  LAST LOGIN           LAST LOGOUT",
		"bob@example.com  pop      2026-12-02 09:20:41  -")
	p.sh("SEE ALSO")
	p.raw(`\fBAService\fR(8), \fBAService.cfg\fR(5), \fBstart\-msg\fR(8), \fBstop\-msg\fR(8)`)
	return p.String()
}
