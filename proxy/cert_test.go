package proxy

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/openmmp/mmp/proxy/proxytest"
)

// TestCertmapsLoadedWithConfiguration: certmap.conf is read when the
// configuration is installed (NewServer, Update), so a change to the file
// takes effect at refresh, and a file the MMP cannot follow is kept as an
// error that refuses certificate logins.
func TestCertmapsLoadedWithConfiguration(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "certmap.conf")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("certmap default default\ndefault:FilterComps ou=uid\n")
	svc := proxytest.Service(t, map[string]string{"CertmapFile": path}, "")
	srv := NewServer(Options{Service: svc, Protocol: nopProtocol{}})
	cms := srv.cfg.Load().certmaps
	if f := cms[path]; f.err != nil || len(f.cm.Maps) != 1 {
		t.Fatalf("certmaps[%s] = %+v, want one map", path, f)
	}
	// A change on disk is not seen until the configuration is installed again.
	write("certmap default default\ndefault:FilterComps ou=uid\ncertmap ca cn=CA\n")
	if f := srv.cfg.Load().certmaps[path]; len(f.cm.Maps) != 1 {
		t.Errorf("certmap.conf re-read at login time")
	}
	srv.Update(svc)
	if f := srv.cfg.Load().certmaps[path]; f.err != nil || len(f.cm.Maps) != 2 {
		t.Errorf("after Update: %+v, want two maps", f)
	}
	write("certmap default default\ndefault:library /x.so\n")
	srv.Update(svc)
	if f := srv.cfg.Load().certmaps[path]; f.err == nil {
		t.Error("a certmap.conf with a plug-in was accepted")
	}
	os.Remove(path)
	srv.Update(svc)
	if f := srv.cfg.Load().certmaps[path]; f.err == nil {
		t.Error("a missing certmap.conf was accepted")
	}
}

// nopProtocol serves nobody; for tests of the Server's configuration.
type nopProtocol struct{}

func (nopProtocol) Login(context.Context, *Session) (*Store, error) { return nil, nil }
func (nopProtocol) Refuse(*Session, string)                         {}
func (nopProtocol) InternalError(*Session)                          {}
