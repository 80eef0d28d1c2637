//go:build !unix

package daemon

import (
	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// dropPrivileges does nothing: BeTheUser and BeTheGroup are ignored on
// Windows (docs/reference.md §2.1).
func dropPrivileges(*config.Values, ...string) (string, error) { return "", nil }

// runAs reports no user to switch to, since there is no switch.
func runAs(*config.Values) (uid, gid int, bad *param.Param, err error) { return -1, -1, nil, nil }
