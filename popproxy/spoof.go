package popproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// maxSpoofFile bounds the spoof message: it is a notice to users, and the
// whole of it is kept in memory.
const maxSpoofFile = 1 << 20

// spoofMessage is the SpoofMessageFile message, ready to serve (docs/reference.md §3.9).
type spoofMessage struct {
	lines []string // the message's lines, without CRLF and without dot-stuffing
	size  int      // octets of the message with CRLF line ends, as STAT and LIST count them
	uidl  string
	body  int // index in lines of the first body line (after the blank line)
}

// parseSpoof reads a spoof file. The reference says the file is in POP wire
// form, dot-stuffed and ending with a "." line (§2.4, §3.9); files written
// by hand often are not. So: when the last line is ".", the file is wire
// form, the dot line ends it and a leading ".." loses one dot (RFC 1939
// §3); otherwise the whole file is the message, as it stands. A line that
// starts with one dot in a wire-form file was not stuffed by its author
// and is kept. Bare LF line ends, as an editor writes them, become CRLF.
// The message is stuffed again when it is sent.
func parseSpoof(data []byte) *spoofMessage {
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if n := len(lines); n > 0 && lines[n-1] == "." {
		lines = lines[:n-1]
		for i, l := range lines {
			if strings.HasPrefix(l, "..") {
				lines[i] = l[1:]
			}
		}
	}
	m := &spoofMessage{lines: lines, body: len(lines)}
	h := sha256.New()
	for i, l := range lines {
		m.size += len(l) + 2
		h.Write([]byte(l))
		h.Write([]byte("\r\n"))
		if l == "" && m.body == len(lines) {
			m.body = i + 1
		}
	}
	// The UIDL is derived from the content: the same in every session
	// and every process, so that clients that keep mail on the server do
	// not fetch the notice again, and new once the notice changes
	// (RFC 1939 §7: 1 to 70 characters 0x21–0x7E).
	m.uidl = "mmp-spoof-" + hex.EncodeToString(h.Sum(nil))[:24]
	return m
}

// spoofCache keeps each spoof file read, keyed by path, and reads a file
// again only when its modification time or size changed: one stat per
// spoofed session, never a read per command, and an administrator's new
// notice is served without a refresh.
type spoofCache struct {
	mu sync.Mutex
	m  map[string]spoofEntry
}

type spoofEntry struct {
	mtime time.Time
	size  int64
	msg   *spoofMessage
}

func (sc *spoofCache) load(path string) (*spoofMessage, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxSpoofFile {
		return nil, fmt.Errorf("%s is larger than %d octets", path, maxSpoofFile)
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if e, ok := sc.m[path]; ok && e.mtime.Equal(fi.ModTime()) && e.size == fi.Size() {
		return e.msg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > maxSpoofFile {
		return nil, fmt.Errorf("%s is larger than %d octets", path, maxSpoofFile)
	}
	msg := parseSpoof(data)
	if sc.m == nil {
		sc.m = map[string]spoofEntry{}
	}
	sc.m[path] = spoofEntry{mtime: fi.ModTime(), size: fi.Size(), msg: msg}
	return msg, nil
}
