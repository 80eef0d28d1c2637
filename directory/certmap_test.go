package directory

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/openmmp/mmp/cfgfmt"
	"github.com/openmmp/mmp/internal/testenv/testcert"
)

var (
	oidCN  = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOU  = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidO   = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// fakeCert is a certificate with a subject and DER bytes, enough for
// LookupCertificate.
func fakeCert(raw string, names ...pkix.AttributeTypeAndValue) *x509.Certificate {
	return &x509.Certificate{Raw: []byte(raw), Subject: pkix.Name{Names: names}}
}

func atv(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

func certmap(t *testing.T, text string) *cfgfmt.Map {
	t.Helper()
	cm, errs := cfgfmt.ParseCertmap("certmap.conf", []byte(text))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return cm.Maps[0]
}

func TestCertFilter(t *testing.T) {
	c := fakeCert("", atv(oidO, "x"), atv(oidOU, "a*)(uid=b"), atv(oidCN, "C"))
	m := certmap(t, "certmap default default\ndefault:FilterComps ou=uid, cn\n")
	if got, want := certFilter(subjectComps(c), m), `(&(uid=a\2a\29\28uid=b)(cn=C))`; got != want {
		t.Errorf("filter = %s, want %s", got, want)
	}
	m = certmap(t, "certmap default default\ndefault:DNComps ou=uid,o\n")
	d := &Directory{}
	base, _ := d.certBase(nil, nil, subjectComps(c), m)
	if want := `uid=a*)(uid\=b,o=x`; base != want {
		t.Errorf("base = %s, want %s", base, want)
	}
}

func TestLookupCertificate(t *testing.T) {
	s := startLDAP(t)
	set := testcert.New(t)
	alice := set.Client.Leaf
	if alice == nil {
		var err error
		if alice, err = x509.ParseCertificate(set.Client.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	v := values(t, s, "UserGroupDN", "ou=People,o=internet")
	d, logs := newDir(t, Options{})
	ctx := t.Context()
	byOU := certmap(t, "certmap default default\ndefault:DNComps\ndefault:FilterComps ou=uid\n")

	u, err := d.LookupCertificate(ctx, v, alice, byOU)
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	if u.DN != "uid=alice,ou=People,o=internet" || len(u.MailHosts) != 1 || u.MailHosts[0] != store1 || u.Attr("uid") != "alice" {
		t.Errorf("alice: %+v", u)
	}

	// No entry for the subject's ou.
	nobody := fakeCert("x", atv(oidO, "openmmp tests"), atv(oidOU, "nobody"), atv(oidCN, "nobody"))
	if _, err := d.LookupCertificate(ctx, v, nobody, byOU); errKind(err) != "ErrNoUser" {
		t.Errorf("nobody: %v, want ErrNoUser", err)
	}

	// DNComps absent: the subject DN is the entry's DN.
	direct := fakeCert("y", atv(oidO, "internet"), atv(oidOU, "People"), atv(oidUID, "bob"))
	asDN := certmap(t, "certmap default default\n")
	if u, err := d.LookupCertificate(ctx, v, direct, asDN); err != nil || u.DN != "uid=bob,ou=People,o=internet" {
		t.Errorf("subject as DN: %+v, %v", u, err)
	}
	// DNComps list: the base from the subject's ou and o.
	listed := fakeCert("z", atv(oidO, "internet"), atv(oidOU, "People"), atv(oidCN, "bob"))
	byList := certmap(t, "certmap default default\ndefault:DNComps ou, o\ndefault:FilterComps cn=uid\n")
	if u, err := d.LookupCertificate(ctx, v, listed, byList); err != nil || u.DN != "uid=bob,ou=People,o=internet" {
		t.Errorf("DNComps list: %+v, %v", u, err)
	}

	// verifycert: alice's entry holds no certificate yet.
	verify := certmap(t, "certmap default default\ndefault:DNComps\ndefault:FilterComps ou=uid\ndefault:verifycert on\n")
	if _, err := d.LookupCertificate(ctx, v, alice, verify); errKind(err) != "ErrNoUser" {
		t.Errorf("verifycert without a stored certificate: %v, want ErrNoUser", err)
	}
	s.Modify(t, fmt.Sprintf("dn: uid=alice,ou=People,o=internet\nchangetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:: %s\n-\n",
		base64.StdEncoding.EncodeToString(alice.Raw)))
	if u, err := d.LookupCertificate(ctx, v, alice, verify); err != nil || u.Attr("uid") != "alice" {
		t.Errorf("verifycert with the stored certificate: %+v, %v", u, err)
	}
	// Another certificate with the same subject is refused.
	other := testcert.New(t).Client
	oc, err := x509.ParseCertificate(other.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.LookupCertificate(ctx, v, oc, verify); errKind(err) != "ErrNoUser" {
		t.Errorf("verifycert with another certificate: %v, want ErrNoUser", err)
	}
	if !strings.Contains(logs.String(), "does not hold it in userCertificate") {
		t.Errorf("no verifycert log line in:\n%s", logs.String())
	}
}
