package directory

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// CheckPassword checks the password of a user that Lookup found, before the MMP
// contacts the store (docs/reference.md §2.3 PreAuth). The caller decides whether
// pre-authentication applies: PreAuth in q.Values, overridden by the
// domain's mailAccessProxyPreAuth (User.Domain.PreAuth) when the user has one.
//
// With AuthenticationServer set, that service decides (see
// authserver.go for the protocol) and nothing is cached. Otherwise the
// password is checked with a simple bind as the user's DN on a connection
// of its own pool, never on one bound as BindDN, and a success is
// remembered for AuthCacheTTL in a cache of AuthCacheSize entries (either
// 0 turns the cache off). The cache holds one entry per DN: an HMAC of the
// password under a key that is random per process, and the time of the
// bind. So the cache never holds a password nor anything that tells it
// without that key; a password that was changed in the directory is
// refused once its entry is AuthCacheTTL old; and once the new password
// has been used, the entry is the new password's and the old one is never
// accepted from the cache again. Failures are not cached: a password
// guesser gets an answer from the directory each time, and cannot push
// users out of the cache.
//
// q is the Query the session gave Lookup: its Values, and for
// AuthenticationServer its login name and addresses. The error wraps
// account.ErrNoUser for a wrong password (and an empty one, never sent: an
// LDAP bind with an empty password is an unauthenticated bind that many
// servers accept, RFC 4513 §5.1.2), or account.ErrUnavailable when no
// verdict could be had (directory or AuthenticationServer down or too
// slow). On success the session writes the line of proxy.PreAuthLine.
func (d *Directory) CheckPassword(ctx context.Context, q account.Query, u *account.User, password string) error {
	v := q.Values
	if v == nil {
		return fmt.Errorf("directory: pre-authentication without configuration values: %w", account.ErrUnavailable)
	}
	if u == nil || u.DN == "" {
		return fmt.Errorf("directory: pre-authentication without a user entry: %w", account.ErrNoUser)
	}
	if password == "" {
		return fmt.Errorf("directory: empty password for %q: %w", u.DN, account.ErrNoUser)
	}
	if addr := config.Get(v, param.AuthenticationServer); addr != "" {
		return d.askAuthServer(ctx, addr, q, u, password)
	}

	p, err := d.pool(v, bindPool)
	if err != nil {
		return err
	}
	cache := p.cache(authCacheKind, config.Get(v, param.AuthCacheSize))
	ttl := config.Get(v, param.AuthCacheTTL)
	if ttl <= 0 {
		cache = nil
	}
	key := strings.ToLower(u.DN)
	mac := d.passwordMAC(key, password)
	if cache != nil {
		if c, ok := cache.get(key, d.now(), ttl); ok && hmac.Equal(c.(*authEntry).mac[:], mac[:]) {
			d.debugf(ctx, "directory: %q pre-authenticated from the cache", u.DN)
			return nil
		}
	}
	started := d.now()
	if err := d.bind(ctx, p, u.DN, password); err != nil {
		return err
	}
	if cache != nil {
		d.authMu.Lock()
		// A bind that started before the one that stored the current
		// entry must not replace it: it may have checked a password that
		// was changed meanwhile.
		c, ok := cache.get(key, d.now(), ttl)
		if !ok || !started.Before(c.(*authEntry).started) {
			cache.add(key, &authEntry{mac: mac, started: started}, d.now())
		}
		d.authMu.Unlock()
	}
	return nil
}

// authEntry is a successful pre-authentication as the cache keeps it.
type authEntry struct {
	mac     [sha256.Size]byte
	started time.Time // when the bind that checked it was sent
}

// passwordMAC is HMAC-SHA256 under the process's key of the DN and the
// password: the DN is included so that two users with one password do
// not have equal entries.
func (d *Directory) passwordMAC(dn, password string) [sha256.Size]byte {
	h := hmac.New(sha256.New, d.authKey[:])
	h.Write([]byte(dn))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.Unmap().String()
}
