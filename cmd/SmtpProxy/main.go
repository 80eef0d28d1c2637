// Command SmtpProxy is the Messaging Multiplexor's SmtpProxy; see SmtpProxy(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/daemon"
)

func main() { os.Exit(daemon.Main("SmtpProxy", os.Args[1:])) }
