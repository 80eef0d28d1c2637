//go:build !linux

package splice

import (
	"errors"
	"time"
)

// canProbe is false where FIONREAD and MSG_PEEK are not wired up: every
// direction then copies through a pooled buffer (io.Copy-like).
const canProbe = false

// kernelSplice is false: no splice(2), so TCP sessions are copied too.
const kernelSplice = false

var errNoSplice = errors.New("splice: kernel splicing is not supported on this system")

func probeReadable(fd int, peek []byte) (int, error) {
	return 0, errors.New("splice: probeReadable is not supported on this system")
}

func (p *pipe) relay(d *direction, period time.Duration) (bool, error) { return false, errNoSplice }

func pollerUsable() bool     { return false }
func arm(d *direction) error { return errNoSplice }
func forget(d *direction)    {}
func disarm(d *direction)    {}

type kpipe struct{}
