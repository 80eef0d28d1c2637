// Command mmp-setup creates or changes a Messaging Multiplexor instance; see mmp-setup(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/setup"
)

func main() { os.Exit(setup.Main(os.Args[1:])) }
