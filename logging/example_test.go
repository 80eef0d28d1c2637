package logging_test

import (
	"os"
	"time"

	"github.com/openmmp/mmp/logging"
)

func Example() {
	lg, err := logging.Open(logging.Options{
		Dir:    "", // no LogDir: this example writes to standard output only
		Level:  5,  // Notice and above
		Proc:   "ImapProxy",
		Host:   "mmp1",
		Pid:    12607,
		Stderr: os.Stdout,
		Now:    func() time.Time { return time.Date(2019, 7, 2, 11, 26, 57, 0, time.FixedZone("", 2*3600)) },
	})
	if err != nil {
		panic(err)
	}
	defer lg.Close()

	log := lg.Session(1019831)
	logging.Notice(log, "badguy 192.12.87.25 now has 3 badness")
	log.Info("not shown at LogLevel 5")
	log.Error("store unreachable", logging.Category("Store"), "host", "st1.example.com", "password", logging.Secret("x"))
	logging.Notice(lg.Slog(), "ImapProxy(ImapProxyAService.cfg): exiting")
	// Output:
	// [02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Notice: (id 1019831) badguy 192.12.87.25 now has 3 badness
	// [02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: Store Error: (id 1019831) store unreachable host=st1.example.com password=**redacted**
	// [02/Jul/2019:11:26:57 +0200] mmp1 ImapProxy[12607]: General Notice: ImapProxy(ImapProxyAService.cfg): exiting
}
