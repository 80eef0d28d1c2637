//go:build !linux

package proxy

import "net"

// listenConfig: Go's defaults, keep-alive set on each accepted connection.
func listenConfig() *net.ListenConfig { return &net.ListenConfig{} }
