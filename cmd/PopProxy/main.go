// Command PopProxy is the Messaging Multiplexor's PopProxy; see PopProxy(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/daemon"
)

func main() { os.Exit(daemon.Main("PopProxy", os.Args[1:])) }
