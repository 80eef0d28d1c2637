package directory

import (
	"reflect"
	"testing"

	"github.com/openmmp/mmp/account"
)

// A cloned user is equal to the cached one and shares nothing a caller
// could change: neither a value written in place nor an append reaches
// the cache, nor another attribute of the clone.
func TestCloneUser(t *testing.T) {
	orig := &account.User{DN: "uid=a", MailHosts: []string{"h1", "h2"},
		Attrs: map[string][]string{"uid": {"a"}, "mail": {"a@x", "b@x"}, "empty": {}}}
	want := &account.User{DN: "uid=a", MailHosts: []string{"h1", "h2"},
		Attrs: map[string][]string{"uid": {"a"}, "mail": {"a@x", "b@x"}, "empty": {}}}
	c := cloneUser(orig)
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("clone %+v, want %+v", c, want)
	}
	c.MailHosts[0] = "changed"
	c.MailHosts = append(c.MailHosts, "h3")
	c.Attrs["uid"][0] = "changed"
	c.Attrs["uid"] = append(c.Attrs["uid"], "more")
	c.Attrs["mail"] = append(c.Attrs["mail"], "c@x")
	c.Attrs["new"] = []string{"x"}
	if !reflect.DeepEqual(orig, want) {
		t.Errorf("the cached user changed: %+v", orig)
	}
	c2 := cloneUser(orig)
	c2.MailHosts = append(c2.MailHosts, "h3")
	for k, v := range want.Attrs {
		if !reflect.DeepEqual(c2.Attrs[k], v) {
			t.Errorf("an append to MailHosts changed %s: %q", k, c2.Attrs[k])
		}
	}
	if u := cloneUser(&account.User{DN: "x"}); u.MailHosts != nil || u.Attrs != nil {
		t.Errorf("nil slices and map should stay nil: %+v", u)
	}
}
