package instance

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PidsFile is the registry of an instance's daemons, one process id per
// line in the order they were started (docs/reference.md §5.3). start-msg appends;
// stop-msg takes the last live one, since Sun's stop-msg "stops the most
// recently started MMP", and rewrites the file without the dead.
const PidsFile = "mmp.pids"

// readPids returns the pids of dir's registry, oldest first. A missing
// file is an empty registry; lines that are not pids are skipped, so that
// a hand-edited file cannot stop the commands.
func readPids(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, PidsFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if pid, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// appendPid records a daemon that was just started. O_APPEND keeps two
// start-msg runs at once from losing a line.
func appendPid(dir string, pid int) error {
	f, err := os.OpenFile(filepath.Join(dir, PidsFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%d\n", pid); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writePids replaces the registry in one rename.
func writePids(dir string, pids []int) error {
	var b strings.Builder
	for _, pid := range pids {
		fmt.Fprintf(&b, "%d\n", pid)
	}
	path := filepath.Join(dir, PidsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// livePids returns the registered pids that still run the instance in
// dir, oldest first, and rewrites the registry without the others when
// any are gone.
func livePids(dir string) ([]int, error) {
	pids, err := readPids(dir)
	if err != nil {
		return nil, err
	}
	var live []int
	seen := map[int]bool{}
	for _, pid := range pids {
		if !seen[pid] && alive(pid, dir) {
			live = append(live, pid)
		}
		seen[pid] = true
	}
	if len(live) != len(pids) {
		if err := writePids(dir, live); err != nil {
			return live, err
		}
	}
	return live, nil
}

// without returns pids less pid.
func without(pids []int, pid int) []int {
	var out []int
	for _, p := range pids {
		if p != pid {
			out = append(out, p)
		}
	}
	return out
}
