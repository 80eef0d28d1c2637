// Command imsconnutil lists who is connected to the Messaging Multiplexors and ends a user's sessions; see imsconnutil(8).
package main

import (
	"os"

	"github.com/openmmp/mmp/instance"
)

func main() { os.Exit(instance.ConnUtil(os.Args[1:])) }
