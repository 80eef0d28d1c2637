package daemon

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openmmp/mmp/internal/testenv/twostores"
)

// Attack: with PreAuth off an unknown, inactive or hostless user was
// refused in 0.5 ms while a wrong password took 500 ms (the store was
// asked): the reply's timing told which names exist. Every failed login,
// whatever the cause, is now answered AuthFailureDelay after the attempt
// began, and a good login is not delayed. Against real slapd and Dovecot.
func TestFailedLoginsTakeTheSameTime(t *testing.T) {
	env := twostores.Start(t)
	env.LDAP.Modify(t, `dn: uid=dave,ou=People,o=internet
changetype: add
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: inetOrgPerson
uid: dave
cn: Dave Hostless
sn: Hostless
userPassword: davepw
`)
	addr, _ := startImapProxy(t, env, "--AuthFailureDelay", "1")
	timed := func(login string) (string, time.Duration) {
		cl := dialIMAP(t, addr)
		start := time.Now()
		_, tagged := cl.cmd("%s", login)
		return tagged, time.Since(start)
	}
	causes := map[string]string{
		"unknown user":   "LOGIN nobody alicepw",
		"inactive user":  "LOGIN carol carolpw",
		"no mail host":   "LOGIN dave davepw",
		"wrong password": "LOGIN alice wrong-password", // the store is asked
	}
	lo, hi := time.Hour, time.Duration(0)
	for cause, login := range causes {
		var took []time.Duration
		for range 2 {
			tagged, d := timed(login)
			if !strings.Contains(tagged, "NO [AUTHENTICATIONFAILED]") {
				t.Fatalf("%s: %q", cause, tagged)
			}
			took = append(took, d)
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		t.Logf("%s: %v", cause, took)
		lo, hi = min(lo, took[0]), max(hi, took[len(took)-1])
		if took[0] < time.Second {
			t.Errorf("%s answered after %v, before the 1 s AuthFailureDelay", cause, took[0])
		}
	}
	// Every cause falls in one narrow band: no cause can be told apart.
	if hi-lo > 500*time.Millisecond {
		t.Errorf("failures took %v to %v: the causes can be told apart", lo, hi)
	}
	if tagged, d := timed(fmt.Sprintf("LOGIN alice %s", twostores.User("alice").Password)); !strings.Contains(tagged, " OK ") || d >= time.Second {
		t.Errorf("a good login: %q after %v, want OK without the failure delay", tagged, d)
	}
}
