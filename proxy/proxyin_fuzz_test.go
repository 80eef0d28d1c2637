package proxy

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzParseProxyHeader: whatever a peer sends where a PROXY header
// belongs, the parser returns (an error or addresses) without panicking
// and without reading past a bounded header.
func FuzzParseProxyHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 127.0.0.5 127.0.0.1 40000 143\r\n",
		"PROXY TCP6 ::1 ::1 1 2\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY TCP4 not-an-address\r\n",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x7f\x00\x00\x06\x7f\x00\x00\x01\x9c\x41\x00\x8f",
		"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00",
		"* OK hello\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := parseProxyHeader(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && info.client.IsValid() != info.server.IsValid() {
			t.Fatalf("half an address pair: %+v", info)
		}
	})
}
