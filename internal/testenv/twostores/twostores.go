// Package twostores starts the standard MMP integration environment: one
// directory (slapd, seeded from testdata/ldif/two-stores.ldif) and two
// Dovecot message stores on 127.0.0.11 and 127.0.0.12 that listen on the same
// IMAP and POP3 ports, so that the user's mailHost alone decides where the
// MMP connects, as with its single BacksidePort.
//
// Every user exists only on the store its mailHost names and has one message
// whose subject names that store (WelcomeSubject), so a test proves the
// routing by logging in through the proxy and fetching the subject. carol is
// mailUserStatus: inactive in the directory but can log in to her store, so
// a refusal is the MMP's own.
//
// Typical usage:
//
//	env := twostores.Start(t)
//	cfg.LdapUrl = env.LDAP.URL
//	cfg.BacksidePort = env.IMAPPort
//	alice := twostores.User("alice")
//	... log in through the proxy as alice.UID / alice.Password ...
//	... expect "* 1 EXISTS" and the subject twostores.WelcomeSubject(alice)
package twostores

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/openmmp/mmp/internal/testenv"
	"github.com/openmmp/mmp/internal/testenv/dovecot"
	"github.com/openmmp/mmp/internal/testenv/slapd"
)

// The loopback addresses of the two stores: the mailHost values of the
// directory. Linux routes all of 127.0.0.0/8 to lo.
const (
	Store1 = "127.0.0.11"
	Store2 = "127.0.0.12"
)

// The master user configured on both stores (dovecot.WithMasterUser), for
// the MMP's StoreAdmin proxy authentication.
const (
	MasterUser = "storeadmin"
	MasterPass = "storeadminpw"
)

// Account is one user of two-stores.ldif.
type Account struct {
	UID      string
	Password string
	DN       string
	Mail     string
	MailHost string // Store1 or Store2
	Status   string // mailUserStatus
}

// Accounts lists the users of testdata/ldif/two-stores.ldif; keep the two in
// step.
var Accounts = []Account{
	{"alice", "alicepw", "uid=alice,ou=People,o=internet", "alice@example.com", Store1, "active"},
	{"bob", "bobpw", "uid=bob,ou=People,o=internet", "bob@example.com", Store2, "active"},
	{"jürgen", "juergenpw", "uid=jürgen,ou=People,o=internet", "juergen@example.com", Store1, "active"},
	{"carol", "carolpw", "uid=carol,ou=People,o=internet", "carol@example.com", Store2, "inactive"},
}

// User returns the account with the given uid and panics if there is none
// (a typo in a test).
func User(uid string) Account {
	for _, a := range Accounts {
		if a.UID == uid {
			return a
		}
	}
	panic("twostores: no user " + uid)
}

// WelcomeSubject is the Subject of the one message in a's INBOX; it names
// the store, so fetching it proves where a session was routed.
func WelcomeSubject(a Account) string {
	return fmt.Sprintf("Welcome %s on %s", a.UID, a.MailHost)
}

// WelcomeMessage is the RFC 822 text of that message.
func WelcomeMessage(a Account) string {
	return "From: postmaster@example.com\r\n" +
		"To: " + a.Mail + "\r\n" +
		"Subject: " + WelcomeSubject(a) + "\r\n" +
		"Message-ID: <welcome." + a.Mail + ">\r\n" +
		"Date: Mon, 1 Jan 2001 00:00:00 +0000\r\n" +
		"\r\n" +
		"This message lives on " + a.MailHost + ".\r\n"
}

// Env is a running directory and its two stores.
type Env struct {
	LDAP   *slapd.Server
	Store1 *dovecot.Server
	Store2 *dovecot.Server

	// IMAPPort and POP3Port are the same on both stores (BacksidePort).
	IMAPPort int
	POP3Port int
}

// Store returns the store whose address is host (a mailHost value), or nil.
func (e *Env) Store(host string) *dovecot.Server {
	switch host {
	case e.Store1.Host:
		return e.Store1
	case e.Store2.Host:
		return e.Store2
	}
	return nil
}

type config struct {
	ldap  []slapd.Option
	store []dovecot.Option
}

// Option configures Start.
type Option func(*config)

// WithSlapd passes options to slapd.Start, after the fixture's own (e.g. more
// LDIF with slapd.WithLDIF, or slapd.WithDatabaseConfig).
func WithSlapd(opts ...slapd.Option) Option {
	return func(c *config) { c.ldap = append(c.ldap, opts...) }
}

// WithStores passes options to dovecot.Start for both stores, after the
// fixture's own (e.g. dovecot.WithTLS).
func WithStores(opts ...dovecot.Option) Option {
	return func(c *config) { c.store = append(c.store, opts...) }
}

// Start starts the directory and both stores; t.Cleanup stops them.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	testenv.NeedLoopback(t, Store1, Store2)
	var c config
	for _, o := range opts {
		o(&c)
	}
	e := &Env{
		IMAPPort: testenv.FreePortOn(t, Store1, Store2),
		POP3Port: testenv.FreePortOn(t, Store1, Store2),
	}
	e.Store1 = startStore(t, Store1, e, c.store)
	e.Store2 = startStore(t, Store2, e, c.store)
	ldapOpts := append([]slapd.Option{slapd.WithLDIF(LDIF(t, Store1, Store2))}, c.ldap...)
	e.LDAP = slapd.Start(t, ldapOpts...)
	return e
}

func startStore(t testing.TB, host string, e *Env, extra []dovecot.Option) *dovecot.Server {
	t.Helper()
	opts := []dovecot.Option{
		dovecot.WithHost(host),
		dovecot.WithPorts(e.IMAPPort, e.POP3Port),
		dovecot.WithMasterUser(MasterUser, MasterPass),
	}
	for _, a := range Accounts {
		if a.MailHost == host {
			opts = append(opts, dovecot.WithUser(a.UID, a.Password), dovecot.WithMessage(a.UID, WelcomeMessage(a)))
		}
	}
	return dovecot.Start(t, append(opts, extra...)...)
}

// LDIF renders testdata/ldif/two-stores.ldif with the given store
// addresses as the mailHost values.
func LDIF(t testing.TB, store1, store2 string) string {
	t.Helper()
	path := filepath.Join(testenv.RepoRoot(t), "testdata", "ldif", "two-stores.ldif")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("twostores: %v", err)
	}
	tmpl, err := template.New("two-stores.ldif").Option("missingkey=error").Parse(string(text))
	if err != nil {
		t.Fatalf("twostores: %s: %v", path, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, map[string]string{"Store1": store1, "Store2": store2}); err != nil {
		t.Fatalf("twostores: %s: %v", path, err)
	}
	return b.String()
}
