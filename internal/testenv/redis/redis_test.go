package redis

import (
	"strings"
	"testing"
)

// StartCluster forms a cluster whose masters each serve their own slots:
// a key is written on its node, and another node answers MOVED to it.
func TestStartCluster(t *testing.T) {
	cl := StartCluster(t, 3, WithPassword("pw"))
	if len(cl.Nodes) != 3 {
		t.Fatalf("%d nodes", len(cl.Nodes))
	}
	for _, n := range cl.Nodes {
		if masters := strings.Count(n.Cli(t, "CLUSTER", "NODES"), "master"); masters != 3 {
			t.Errorf("%s knows %d masters, want 3", n.Addr(), masters)
		}
	}
	home := cl.NodeOf(t, "k")
	home.Cli(t, "SET", "k", "v")
	for _, n := range cl.Nodes {
		if n == home {
			continue
		}
		if _, err := n.do("GET", "k"); err == nil || !strings.HasPrefix(err.Error(), "MOVED") || !strings.HasSuffix(err.Error(), home.Addr()) {
			t.Errorf("GET k on %s: %v, want MOVED to %s", n.Addr(), err, home.Addr())
		}
	}
	if u := cl.URL(); u != "redis-cluster://:pw@"+strings.Join(cl.Addrs(), ",") {
		t.Errorf("URL = %s", u)
	}
}
