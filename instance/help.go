package instance

var shortHelp = map[Kind]string{
	Start:   "Start a Messaging Multiplexor instance in the background",
	Stop:    "Stop the most recently started Messaging Multiplexor of an instance",
	Refresh: "Make a running Messaging Multiplexor re-read its configuration",
}

var longHelp = map[Kind]string{
	Start: `start-msg mmp [instance] starts AService -c DIR -pidfile DIR/run/AService-N.pid
in the background (a new session; output to DIR/log/AService.out), even if
one is already running, as Sun's start-msg did. It records the pid in
DIR/mmp.pids, waits until the daemon has opened every port (the pid file
appears) and prints its pid; if the daemon exits first, its messages are
printed and the exit status is 1.

DIR is ROOT/instance; ROOT is --root, else $OPENMMP_ROOT, else /opt/openmmp.
The instance may be left out when ROOT holds exactly one.`,
	Stop: `stop-msg mmp [instance] sends SIGTERM to the most recently started
running AService of the instance (the last live pid of DIR/mmp.pids) and
waits for it to exit: the daemon stops accepting at once and lets sessions
finish for 30 seconds. Exit status 3 if none is running.`,
	Refresh: `refresh mmp [instance] sends SIGHUP to every running AService of the
instance and waits until each has re-read its configuration, printing the
outcome. Sessions already open keep running. A configuration with errors
is refused (the daemon keeps the previous one): the errors are printed as
file:line: Parameter: message and the exit status is 1.`,
}
