// Command stop-msg is the Messaging Multiplexor's stop-msg; see stop-msg(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/instance"
)

func main() { os.Exit(instance.Main(instance.Stop, os.Args[1:])) }
