// Command refresh is the Messaging Multiplexor's refresh; see refresh(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/instance"
)

func main() { os.Exit(instance.Main(instance.Refresh, os.Args[1:])) }
