package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"sync"
	"time"
)

// TicketRotation is how long a session ticket key encrypts new tickets;
// it is then kept for as long again to decrypt those it issued. A ticket
// therefore resumes a session for between one and two rotations, an
// hour or two: mail clients reconnect far more often than that, and a
// stolen key opens (TLS 1.2) sessions of two hours at most.
const TicketRotation = time.Hour

// TicketKeys are the session ticket keys of one service, kept across
// refreshes. crypto/tls gives every new tls.Config keys of its own, so a
// refresh, which builds a new Config, would make every client do a full
// handshake again; Use gives the new Config these keys instead. The
// daemon calls Rotate on refresh: the new key encrypts, the previous one
// is still accepted, and a client resumes across the refresh.
//
// A resumed session costs the MMP no certificate signature (the
// certificate is not sent); with TLS 1.3 the key exchange is still made
// (Go offers only psk_dhe_ke), so it keeps its forward secrecy. Go checks
// the client certificate of a resumed session against the ClientCAs in
// force (crypto/tls as of Go 1.26), so a changed SSLClientCAPEM applies
// to resumed sessions too.
type TicketKeys struct {
	now func() time.Time // for tests

	mu      sync.Mutex
	current [32]byte
	prev    *[32]byte // nil: none yet, or too old
	born    time.Time // when current was made
	cfgs    []*tls.Config
}

// NewTicketKeys returns keys with a fresh random current key.
func NewTicketKeys() *TicketKeys {
	k := &TicketKeys{now: time.Now}
	k.mu.Lock()
	k.rotateLocked()
	k.mu.Unlock()
	return k
}

// Use makes cfg issue and accept tickets under these keys: the current
// key encrypts, the previous one still decrypts. Every Config given to
// Use follows later rotations; the daemon passes the one Config each
// refresh builds. A nil k or cfg does nothing.
func (k *TicketKeys) Use(cfg *tls.Config) {
	if k == nil || cfg == nil {
		return
	}
	// Rotation is lazy: whenever a ticket is issued or presented, a key
	// older than TicketRotation is replaced, so no timer runs for it.
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		k.age()
		return cfg.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		k.age()
		return cfg.DecryptTicket(identity, cs)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cfgs = append(k.cfgs, cfg)
	// Only the newest few Configs can still start a handshake: sessions
	// accepted before a refresh keep theirs for a STARTTLS.
	if len(k.cfgs) > 4 {
		k.cfgs = append(k.cfgs[:0], k.cfgs[len(k.cfgs)-4:]...)
	}
	k.applyLocked(cfg)
}

// Rotate makes a new key the one that encrypts; the current one becomes
// the previous, still accepted, and the one before is dropped. The daemon
// calls it on refresh.
func (k *TicketKeys) Rotate() {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rotateLocked()
	for _, c := range k.cfgs {
		k.applyLocked(c)
	}
}

// age rotates the current key once it is older than TicketRotation, and
// forgets the previous one once it could only decrypt tickets older than
// that.
func (k *TicketKeys) age() {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch since := k.now().Sub(k.born); {
	case since >= 2*TicketRotation:
		// Unused for so long that the current key's tickets are old too.
		k.rotateLocked()
		k.prev = nil
	case since >= TicketRotation:
		k.rotateLocked()
	default:
		return
	}
	for _, c := range k.cfgs {
		k.applyLocked(c)
	}
}

func (k *TicketKeys) rotateLocked() {
	if !k.born.IsZero() {
		p := k.current
		k.prev = &p
	}
	rand.Read(k.current[:])
	k.born = k.now()
}

func (k *TicketKeys) applyLocked(cfg *tls.Config) {
	keys := [][32]byte{k.current}
	if k.prev != nil {
		keys = append(keys, *k.prev)
	}
	cfg.SetSessionTicketKeys(keys)
}
