package daemon

import (
	"fmt"

	"github.com/openmmp/mmp/config"
)

// serve runs the services of an instance until it is told to stop.
func serve(stdio IO, prog string, inst *config.Instance) int {
	fmt.Fprintf(stdio.Err, "%s: serving is not built yet (%d service(s) configured)\n", prog, len(inst.Services))
	return ExitRuntime
}
