//go:build !unix

package instance

import (
	"errors"
	"syscall"
)

// The instance commands need Unix signals and sessions; elsewhere every
// daemon looks stopped and signalling fails.
var alive = func(int, string) bool { return false }

func signal(int, syscall.Signal) error { return errors.New("signals are not supported on this system") }

func detached() *syscall.SysProcAttr { return nil }
