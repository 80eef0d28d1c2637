package setup

import (
	"context"
	"fmt"
	"time"

	"github.com/openmmp/mmp/directory"
)

// The LDAP test runs through package directory, the only importer of
// go-ldap, with the same connection code (fail-over order, ldaps, bind)
// the daemon will use; a test that passed here therefore means the MMP can
// reach its directory with these settings.

// Bounds of the LDAP test: an installer waiting half a minute for a dead
// directory looks hung.
const (
	probeDial    = 5 * time.Second
	probeTimeout = 15 * time.Second
)

// probeLDAP binds as the answered identity and reads the base DN.
func probeLDAP(s *session) (string, error) {
	u := s.ldapURL()
	bindDN, bindPass := "", ""
	if s.ans.get("bind") == "y" {
		bindDN, bindPass = s.ans.get("bind.dn"), s.ans.get("bind.password")
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	d := directory.New(directory.Options{DialTimeout: probeDial, OpTimeout: probeTimeout})
	defer d.Close()
	server, err := d.Probe(ctx, u, bindDN, bindPass)
	if err != nil {
		return "", err
	}
	who := "anonymously"
	if bindDN != "" {
		who = fmt.Sprintf("as %q", bindDN)
	}
	return fmt.Sprintf("%s answered, bound %s and read the base DN %q", server, who, u.BaseDN), nil
}
