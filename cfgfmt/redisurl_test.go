package cfgfmt

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRedisURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want RedisURL
		str  string
	}{
		{"redis://127.0.0.1", RedisURL{Mode: "single", Addrs: []string{"127.0.0.1:6379"}}, "redis://127.0.0.1:6379"},
		{"rediss://:p%40ss@r.example:6380/2", RedisURL{Mode: "single", TLS: true, Addrs: []string{"r.example:6380"}, Password: "p@ss", DB: 2}, "rediss://:***@r.example:6380/2"},
		{"redis://mmp:pw@[::1]:7000", RedisURL{Mode: "single", Addrs: []string{"[::1]:7000"}, User: "mmp", Password: "pw"}, "redis://mmp:***@[::1]:7000"},
		{"redis-sentinel://s1,s2:26380/mymaster/1", RedisURL{Mode: "sentinel", Addrs: []string{"s1:26379", "s2:26380"}, Master: "mymaster", DB: 1}, "redis-sentinel://s1:26379,s2:26380/mymaster/1"},
		{"rediss-cluster://n1:7000,n2:7001", RedisURL{Mode: "cluster", TLS: true, Addrs: []string{"n1:7000", "n2:7001"}}, "rediss-cluster://n1:7000,n2:7001"},
		{"", RedisURL{}, ""},
	} {
		got, err := ParseRedisURL(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q = %+v, want %+v", c.in, got, c.want)
		}
		if s := got.String(); s != c.str {
			t.Errorf("%q.String() = %q, want %q", c.in, s, c.str)
		}
	}
	for _, in := range []string{"http://h", "redis://", "redis://h1,h2", "redis-sentinel://s1", "redis://h:0", "redis://h/x",
		"redis-cluster://n1/1", "redis://h?x=1", "redis://h/1/2", "redis://:%zz@h"} {
		if u, err := ParseRedisURL(in); err == nil {
			t.Errorf("%q accepted: %+v", in, u)
		} else if strings.Contains(err.Error(), "zz") && strings.Contains(in, "%zz") {
			t.Errorf("%q: the error shows the password: %v", in, err)
		}
	}
}
