//go:build !linux

package proxy

import "errors"

// canProbe is false where FIONREAD and MSG_PEEK are not wired up: every
// direction then copies through a pooled buffer (io.Copy-like).
const canProbe = false

func probeReadable(fd int, peek []byte) (int, error) {
	return 0, errors.New("proxy: probeReadable is not supported on this system")
}
