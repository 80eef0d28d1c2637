package proxy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadCertmap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "certmap.conf")
	write := func(text string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour)
	write("certmap default default\ndefault:FilterComps ou=uid\n", t0)
	cm, err := loadCertmap(path)
	if err != nil || len(cm.Maps) != 1 {
		t.Fatalf("loadCertmap: %v, %v", cm, err)
	}
	if again, _ := loadCertmap(path); again != cm {
		t.Error("unchanged file parsed again")
	}
	write("certmap default default\ndefault:FilterComps ou=uid\ncertmap ca cn=CA\n", t0.Add(time.Minute))
	if cm2, err := loadCertmap(path); err != nil || len(cm2.Maps) != 2 {
		t.Errorf("changed file: %v, %v", cm2, err)
	}
	write("certmap default default\ndefault:library /x.so\n", t0.Add(2*time.Minute))
	if _, err := loadCertmap(path); err == nil {
		t.Error("a certmap.conf with a plug-in was accepted")
	}
	if _, err := loadCertmap(path + ".missing"); err == nil {
		t.Error("a missing certmap.conf was accepted")
	}
}
