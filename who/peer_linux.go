package who

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// peerAllowed refuses a peer that is neither root nor the MMP's own
// user, by the credentials the kernel gives (SO_PEERCRED). The socket's
// mode already keeps others out; this holds even if someone loosens it.
func peerAllowed(c *net.UnixConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	rc.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return cerr
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("who: uid %d may not ask this MMP (only root and uid %d)", cred.Uid, os.Geteuid())
	}
	return nil
}
