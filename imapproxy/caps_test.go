package imapproxy

import (
	"fmt"
	"maps"
	"testing"
)

// The capability codes of store greetings are parsed once and shared;
// other response codes give nil, and the cache stops growing at its bound.
func TestCapabilityCodeCached(t *testing.T) {
	text := "[CAPABILITY IMAP4rev1 SASL-IR literal+ AUTH=PLAIN] Dovecot ready."
	want := map[string]bool{"IMAP4REV1": true, "SASL-IR": true, "LITERAL+": true, "AUTH=PLAIN": true}
	for range 3 {
		if got := capabilityCode(text); !maps.Equal(got, want) {
			t.Fatalf("capabilityCode = %v, want %v", got, want)
		}
	}
	for _, s := range []string{"[ALERT] hello", "no code", "[CAPABILITY IMAP4rev1"} {
		if got := capabilityCode(s); got != nil {
			t.Errorf("capabilityCode(%q) = %v, want nil", s, got)
		}
	}
	for i := range 2 * maxCapsCache {
		code := fmt.Sprintf("[CAPABILITY IMAP4rev1 X-%d] ready", i)
		if got := capabilityCode(code); !got[fmt.Sprintf("X-%d", i)] {
			t.Fatalf("capabilityCode(%q) = %v", code, got)
		}
	}
	capsSeen.mu.Lock()
	n := len(capsSeen.m)
	capsSeen.mu.Unlock()
	if n > maxCapsCache {
		t.Errorf("%d capability lists cached, bound %d", n, maxCapsCache)
	}
}
