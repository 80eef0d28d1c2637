// Command AService is the Messaging Multiplexor's AService; see AService(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/daemon"
)

func main() { os.Exit(daemon.Main("AService", os.Args[1:])) }
