//go:build unix

package daemon

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/param"
)

// dropPrivileges switches a daemon started as root to BeTheUser and
// BeTheGroup, after every listening port is open (docs/reference.md §1.3): binding
// 143 or 110 needs root, serving sessions must not. Since Go 1.16,
// syscall.Setuid and Setgid apply to every thread of the process on Linux.
//
// It returns a warning to log when there is nothing to switch to (root
// without BeTheUser): Sun's daemon ran on in that case, and refusing would
// break containers that run as root in a user namespace.
//
// The paths in own (the directories of the pid file and the refresh
// status file, the log directories and their files) are given to the new
// user first, so that it can still write, remove and re-open them.
func dropPrivileges(v *config.Values, own ...string) (warning string, err error) {
	if os.Geteuid() != 0 {
		return "", nil
	}
	uid, gid, bad, err := runAs(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", bad.Name, err)
	}
	if uid < 0 {
		return "running as root: BeTheUser is not set in AService.cfg", nil
	}
	for _, d := range own {
		if err := os.Chown(d, uid, gid); err != nil {
			return "", fmt.Errorf("giving %s to BeTheUser: %w", d, err)
		}
	}
	// Order matters: the supplementary groups and the group can only be
	// changed while still root.
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return "", fmt.Errorf("setgroups(%d): %w", gid, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return "", fmt.Errorf("setgid(%d): %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return "", fmt.Errorf("setuid(%d): %w", uid, err)
	}
	return "", nil
}

// runAs looks up BeTheUser and BeTheGroup (the user's own group when
// BeTheGroup is unset): what dropPrivileges switches to, and what the
// check verifies with the same code. uid is -1 when BeTheUser is unset.
// On error, bad is the parameter at fault.
func runAs(v *config.Values) (uid, gid int, bad *param.Param, err error) {
	name := config.Get(v, param.BeTheUser)
	group := config.Get(v, param.BeTheGroup)
	if name == "" {
		return -1, -1, nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return -1, -1, param.BeTheUser.Param, err
	}
	if uid, err = strconv.Atoi(u.Uid); err != nil {
		return -1, -1, param.BeTheUser.Param, fmt.Errorf("%s: uid %q: %w", name, u.Uid, err)
	}
	gidText := u.Gid
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return -1, -1, param.BeTheGroup.Param, err
		}
		gidText = g.Gid
	}
	if gid, err = strconv.Atoi(gidText); err != nil {
		return -1, -1, param.BeTheGroup.Param, fmt.Errorf("%s: gid %q: %w", group, gidText, err)
	}
	return uid, gid, nil, nil
}
