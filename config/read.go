package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"time"
)

// errKeptChanging is what reading a file that a writer keeps rewriting
// ends with.
var errKeptChanging = errors.New("the file kept changing while it was read (is it being written?); save it and try again")

// settledReader reads a configuration file once it has stopped changing.
// A refresh can arrive while an editor or a configuration tool writes a
// file in place: read then, the file is empty or half-written, and the
// MMP would run on built-in defaults for whatever is missing. A read is
// taken as settled when the file's size and modification time are the
// same before and after it, two reads give the same bytes, and the file
// was not modified within the last pause (a writer may be between two
// writes) and is not empty (a writer that truncates first may not have
// written yet; truncating does not always update the modification time);
// otherwise it is read again after the pause, and refused when it is
// still changing after tries reads. An empty file is given back only
// when it is still empty and unchanged at the last try.
type settledReader struct {
	pause time.Duration
	tries int
	stat  func(string) (fs.FileInfo, error)
	read  func(string) ([]byte, error)
	now   func() time.Time
	sleep func(time.Duration)
}

// defaultReader is the reader of Load and LoadFrontEnd when asked to wait
// for settled files (Options.WaitSettled). A file written just before a
// start or refresh costs one pause.
var defaultReader = settledReader{pause: 100 * time.Millisecond, tries: 10,
	stat: os.Stat, read: os.ReadFile, now: time.Now, sleep: time.Sleep}

// snapshot is one attempt: the file's bytes and what stat said.
type snapshot struct {
	data  []byte
	size  int64
	mtime time.Time
}

func (a snapshot) same(b snapshot) bool {
	return a.size == b.size && a.mtime.Equal(b.mtime) && bytes.Equal(a.data, b.data)
}

// readFile returns the contents of a file once they have settled, or
// errKeptChanging; any other error is the file system's (a missing file
// gives fs.ErrNotExist, for the template rule).
func (r settledReader) readFile(path string) ([]byte, error) {
	var prev *snapshot
	seen, gone := false, error(nil)
	for try := 0; try < r.tries; try++ {
		if try > 0 {
			r.sleep(r.pause)
		}
		s, stable, err := r.attempt(path)
		if errors.Is(err, fs.ErrNotExist) && seen {
			// Removed and written anew (some editors do that): missing
			// for good only if it stays missing.
			prev, gone = nil, err
			continue
		}
		if err != nil {
			return nil, err
		}
		seen, gone = true, nil
		if !stable {
			prev = nil
			continue
		}
		if prev != nil && prev.same(s) && (len(s.data) > 0 || try == r.tries-1) {
			// Unchanged for a whole pause; an empty file only at the
			// last try, since a writer stalled between truncate and
			// write leaves the file empty and unchanged for a while.
			return s.data, nil
		}
		if age := r.now().Sub(s.mtime); age >= r.pause && len(s.data) > 0 {
			return s.data, nil
		}
		prev = &s
	}
	if gone != nil {
		return nil, gone
	}
	return nil, errKeptChanging
}

// attempt stats, reads twice and stats again; stable means nothing
// changed in between.
func (r settledReader) attempt(path string) (snapshot, bool, error) {
	before, err := r.stat(path)
	if err != nil {
		return snapshot{}, false, err
	}
	first, err := r.read(path)
	if err != nil {
		return snapshot{}, false, err
	}
	second, err := r.read(path)
	if err != nil {
		return snapshot{}, false, err
	}
	after, err := r.stat(path)
	if err != nil {
		return snapshot{}, false, err
	}
	s := snapshot{data: first, size: after.Size(), mtime: after.ModTime()}
	stable := before.Size() == after.Size() && before.ModTime().Equal(after.ModTime()) &&
		int64(len(first)) == after.Size() && bytes.Equal(first, second)
	return s, stable, nil
}

// readFile reads a file of the configuration: once it has settled when
// the caller asked for it (Options.WaitSettled), else at once.
func (l *loader) readFile(path string) ([]byte, error) {
	if l.settle {
		return defaultReader.readFile(path)
	}
	return os.ReadFile(path)
}
