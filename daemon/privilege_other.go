//go:build !unix

package daemon

import "github.com/openmmp/mmp/config"

// dropPrivileges does nothing: BeTheUser and BeTheGroup are ignored on
// Windows (spec §2.1).
func dropPrivileges(*config.Values, ...string) (string, error) { return "", nil }
