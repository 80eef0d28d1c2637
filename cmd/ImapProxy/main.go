// Command ImapProxy is the Messaging Multiplexor's ImapProxy; see ImapProxy(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/daemon"
)

func main() { os.Exit(daemon.Main("ImapProxy", os.Args[1:])) }
