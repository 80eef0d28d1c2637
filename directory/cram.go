package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/openmmp/mmp/account"
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// ErrNoClearPassword means the directory holds no password in clear text
// for the user (none readable by BindDN, or only hashed ones), or CRAMs is
// off: a challenge-response login (CRAM-MD5, APOP) cannot be checked. It
// wraps account.ErrNoUser, since the client's login fails; a protocol may
// prefer not to count it as a BadGuys failure, as it is not the client's.
var ErrNoClearPassword = fmt.Errorf("directory: no clear-text password: %w", account.ErrNoUser)

// ClearPassword returns u's password in clear text, for a protocol to
// check a CRAM-MD5 or APOP response and to replay the login to the store
// (docs/reference.md §2.3 CRAMs: it needs a clear-text userPassword readable by
// BindDN). It refuses with ErrNoClearPassword when CRAMs is off in values.
//
// userPassword is read from the entry each time, as BindDN: it is never
// fetched by Lookup nor cached, so that no password sits in the lookup
// cache or in a User that may be logged. A value without a storage scheme
// prefix, or with {CLEARTEXT} or {PLAIN} (RFC 3112 style, case-insensitive),
// is the password; a value with any other scheme ({SSHA}, {CRYPT}, ...) is
// a hash that cannot answer a challenge, and is skipped with a warning
// that names the scheme (never the value). The first usable value wins.
//
// Errors wrap ErrNoClearPassword (and so account.ErrNoUser), account.ErrNoUser
// when the entry is gone, or account.ErrUnavailable.
func (d *Directory) ClearPassword(ctx context.Context, values *config.Values, u *account.User) (string, error) {
	if values == nil {
		return "", fmt.Errorf("directory: clear password without configuration values: %w", account.ErrUnavailable)
	}
	if u == nil || u.DN == "" {
		return "", fmt.Errorf("directory: clear password without a user entry: %w", account.ErrNoUser)
	}
	if !config.Get(values, param.CRAMs) {
		return "", fmt.Errorf("directory: CRAMs is off: %w", ErrNoClearPassword)
	}
	p, err := d.pool(values, searchPool)
	if err != nil {
		return "", err
	}
	e, err := d.readEntry(ctx, p, u.DN, []string{"userPassword"})
	switch {
	case err == nil:
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return "", fmt.Errorf("directory: %q no longer exists: %w", u.DN, account.ErrNoUser)
	case errors.Is(err, account.ErrUnavailable):
		return "", err
	default:
		return "", fmt.Errorf("directory: read userPassword of %q: %w: %w", u.DN, err, account.ErrUnavailable)
	}
	var vals []string
	if e != nil {
		vals = e.GetEqualFoldAttributeValues("userPassword")
	}
	if len(vals) == 0 {
		d.log.Warn(fmt.Sprintf("directory: %q has no userPassword that BindDN may read; CRAM-MD5 and APOP cannot be checked (CRAMs)", u.DN))
		return "", fmt.Errorf("directory: no userPassword readable for %q: %w", u.DN, ErrNoClearPassword)
	}
	var schemes []string
	for _, v := range vals {
		scheme, rest, ok := passwordScheme(v)
		if !ok {
			return v, nil
		}
		if strings.EqualFold(scheme, "CLEARTEXT") || strings.EqualFold(scheme, "PLAIN") {
			return rest, nil
		}
		schemes = append(schemes, "{"+scheme+"}")
	}
	d.log.Warn(fmt.Sprintf("directory: the userPassword of %q is stored hashed (%s); CRAM-MD5 and APOP need it in clear text (CRAMs)",
		u.DN, strings.Join(schemes, " ")))
	return "", fmt.Errorf("directory: userPassword of %q is hashed (%s): %w", u.DN, strings.Join(schemes, " "), ErrNoClearPassword)
}

// passwordScheme splits a userPassword value "{SCHEME}rest". A scheme is
// one or more letters, digits, "-", "_", "." or "+" (RFC 3112 §3); a value
// that does not start with one is taken as clear text.
func passwordScheme(v string) (scheme, rest string, ok bool) {
	if !strings.HasPrefix(v, "{") {
		return "", "", false
	}
	end := strings.IndexByte(v, '}')
	if end < 2 {
		return "", "", false
	}
	for _, c := range v[1:end] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.+", c)) {
			return "", "", false
		}
	}
	return v[1:end], v[end+1:], true
}
