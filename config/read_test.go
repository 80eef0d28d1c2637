package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeFile is a file that a writer rewrites under the reader: each read
// or stat after the first few sees the next version.
type fakeFile struct {
	versions []string // the file's successive contents
	step     int      // operations before the content moves on
	ops      int
}

func (f *fakeFile) current() int {
	return min(f.ops/f.step, len(f.versions)-1)
}

func (f *fakeFile) stat(string) (fs.FileInfo, error) {
	i := f.current()
	f.ops++
	return fakeInfo{size: int64(len(f.versions[i])), mtime: time.Unix(int64(1000+i), 0)}, nil
}

func (f *fakeFile) read(string) ([]byte, error) {
	i := f.current()
	f.ops++
	return []byte(f.versions[i]), nil
}

type fakeInfo struct {
	fs.FileInfo
	size  int64
	mtime time.Time
}

func (i fakeInfo) Size() int64        { return i.size }
func (i fakeInfo) ModTime() time.Time { return i.mtime }

// A file that changes between the reads of one attempt is read again
// after the pause and used once it stays the same; one that never stops
// changing is refused.
func TestReadSettled(t *testing.T) {
	var slept []time.Duration
	r := settledReader{pause: time.Millisecond, tries: 5, now: func() time.Time { return time.Unix(5000, 0) },
		sleep: func(d time.Duration) { slept = append(slept, d) }}

	f := &fakeFile{versions: []string{"default:Banner a\n", "default:Ban", "default:Banner b\n"}, step: 3}
	r.stat, r.read = f.stat, f.read
	data, err := r.readFile("x.cfg")
	if err != nil || string(data) != "default:Banner b\n" {
		t.Errorf("a file that settles: %q, %v; want the last version", data, err)
	}
	if len(slept) == 0 {
		t.Errorf("a file that changed while read was not read again after a pause")
	}

	var versions []string
	for i := range 50 {
		versions = append(versions, fmt.Sprintf("default:Banner %d\n", i))
	}
	f = &fakeFile{versions: versions, step: 2}
	r.stat, r.read = f.stat, f.read
	if data, err := r.readFile("x.cfg"); !errors.Is(err, errKeptChanging) {
		t.Errorf("a file that keeps changing: %q, %v; want errKeptChanging", data, err)
	}

	// An empty file may be one truncated by a writer that has not written
	// yet: it is read again after the pause.
	f = &fakeFile{versions: []string{"", "default:Banner a\n"}, step: 4}
	r.stat, r.read = f.stat, f.read
	if data, err := r.readFile("x.cfg"); err != nil || string(data) != "default:Banner a\n" {
		t.Errorf("a file empty for a moment: %q, %v; want what was written next", data, err)
	}

	// A writer stalled between truncate and write for longer than a
	// pause leaves the file empty and unchanged across two attempts:
	// still read again, since an empty configuration file is most often
	// one caught being written.
	ops := 0
	stalled := func() string {
		if ops < 12 { // the first three attempts see the truncated file
			return ""
		}
		return "default:Banner a\n"
	}
	r.stat = func(string) (fs.FileInfo, error) {
		ops++
		return fakeInfo{size: int64(len(stalled())), mtime: time.Unix(1000, 0)}, nil
	}
	r.read = func(string) ([]byte, error) { ops++; return []byte(stalled()), nil }
	if data, err := r.readFile("x.cfg"); err != nil || string(data) != "default:Banner a\n" {
		t.Errorf("a file empty over two pauses: %q, %v; want what was written next", data, err)
	}

	// A file that stays empty is given back empty after the last try:
	// the loader then says that it has no setting.
	r.stat = func(string) (fs.FileInfo, error) { return fakeInfo{mtime: time.Unix(1000, 0)}, nil }
	r.read = func(string) ([]byte, error) { return nil, nil }
	if data, err := r.readFile("x.cfg"); err != nil || len(data) != 0 {
		t.Errorf("a file that stays empty: %q, %v; want it empty, no error", data, err)
	}

	// A file removed and written anew is waited for, not taken as
	// missing (which would apply the template rule to it).
	gone := 0
	r.stat = func(string) (fs.FileInfo, error) {
		if gone++; gone == 3 || gone == 4 { // the second and third attempts
			return nil, &fs.PathError{Op: "stat", Path: "x.cfg", Err: fs.ErrNotExist}
		}
		return fakeInfo{size: 17, mtime: time.Unix(5000, 0)}, nil // written just now
	}
	r.read = func(string) ([]byte, error) { return []byte("default:Banner a\n"), nil }
	if data, err := r.readFile("x.cfg"); err != nil || string(data) != "default:Banner a\n" {
		t.Errorf("a file missing for a moment: %q, %v", data, err)
	}

	// A file that does not change is read once, without a pause.
	slept = nil
	f = &fakeFile{versions: []string{"default:Banner a\n"}, step: 1}
	r.stat, r.read = f.stat, f.read
	if data, err := r.readFile("x.cfg"); err != nil || string(data) != "default:Banner a\n" || len(slept) > 0 {
		t.Errorf("a stable file: %q, %v, slept %v", data, err, slept)
	}
}

// A file written a moment ago may be between two writes of its writer:
// it is read again after the pause, and used when it has not changed.
func TestReadSettledRecentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.cfg")
	if err := os.WriteFile(path, []byte("default:Banner a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	slept := 0
	r := defaultReader
	r.sleep = func(d time.Duration) { slept++; time.Sleep(d) }
	data, err := r.readFile(path)
	if err != nil || string(data) != "default:Banner a\n" {
		t.Fatalf("%q, %v", data, err)
	}
	if slept != 1 {
		t.Errorf("a file written just now was read after %d pauses, want 1", slept)
	}
}

// Load refuses a file that keeps changing while it is read, naming it.
func TestLoadRefusesFileBeingWritten(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("AService.cfg", "default:ServiceList ImapProxyAService@1143\n")
	write("ImapProxyAService.cfg", "default:Banner a\n")
	// An editor rewriting the file in place during every pause of the
	// reader, each time with a new modification time (in the future, so
	// that no stall of a loaded machine makes the file look old enough):
	// what a real writer does, without depending on how the two are
	// scheduled.
	path := filepath.Join(dir, "ImapProxyAService.cfg")
	saved := defaultReader
	t.Cleanup(func() { defaultReader = saved })
	i := 0
	rewrite := func() {
		i++
		write("ImapProxyAService.cfg", fmt.Sprintf("default:Banner %s\n", strings.Repeat("x", i%7+1)))
		mtime := time.Now().Add(time.Hour + time.Duration(i)*time.Second)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	rewrite()
	defaultReader.sleep = func(time.Duration) { rewrite() }
	_, problems := Load(dir, Options{WaitSettled: true})
	found := false
	for _, p := range problems {
		if p.File == "ImapProxyAService.cfg" && p.Severity == Fatal && strings.Contains(p.Msg, "kept changing") {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %v, want ImapProxyAService.cfg refused as changing", problems)
	}
}
