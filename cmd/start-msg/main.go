// Command start-msg is the Messaging Multiplexor's start-msg; see start-msg(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/instance"
)

func main() { os.Exit(instance.Main(instance.Start, os.Args[1:])) }
