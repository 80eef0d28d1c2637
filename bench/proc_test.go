package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// What the benchmark reads about processes, from /proc (Linux only).

// statusKB returns a "kB" field of /proc/PID/status (VmRSS, RssAnon...).
func statusKB(pid int, field string) (int64, error) {
	return kbField(fmt.Sprintf("/proc/%d/status", pid), field)
}

// rollupKB returns a field of /proc/PID/smaps_rollup (Rss, Pss, Pss_Anon...).
func rollupKB(pid int, field string) (int64, error) {
	return kbField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), field)
}

func kbField(path, field string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		v := strings.Fields(rest)
		if len(v) == 0 {
			break
		}
		return strconv.ParseInt(v[0], 10, 64)
	}
	return 0, fmt.Errorf("%s: no field %s", path, field)
}

// procStat is what the benchmark needs of /proc/PID/stat.
type procStat struct {
	pgrp  int
	ticks int64 // utime + stime, in clock ticks
	sys   int64 // stime: in the kernel on the process's behalf
	child int64 // cutime + cstime: of its children that exited and were waited for
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime ...; comm may hold blanks and ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	var st procStat
	st.pgrp, _ = strconv.Atoi(f[2])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	st.ticks = ut + stt
	st.sys = stt
	cut, _ := strconv.ParseInt(f[13], 10, 64)
	cst, _ := strconv.ParseInt(f[14], 10, 64)
	st.child = cut + cst
	return st, nil
}

// groupPids lists the processes of a process group.
func groupPids(pgid int) []int {
	ents, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(filepath.Base(e))
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.pgrp == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// groupPssKB is the proportional set size of a process group: what its
// processes occupy, shared pages divided among those that share them.
func groupPssKB(pgid int) (int64, int) {
	var sum int64
	pids := groupPids(pgid)
	for _, pid := range pids {
		if v, err := rollupKB(pid, "Pss"); err == nil {
			sum += v
		}
	}
	return sum, len(pids)
}

// clockTick is USER_HZ, 100 on every Linux architecture Go runs on.
const clockTick = 100

// groupCPU is the CPU time in seconds a process group has used so far:
// its live processes' own, plus that of their children that exited and
// were waited for (cutime, cstime), so that a Dovecot process ending
// during a measurement (its master reaps it) does not take its time with
// it.
func groupCPU(pgid int) float64 {
	var t int64
	for _, pid := range groupPids(pgid) {
		if st, err := readStat(pid); err == nil {
			t += st.ticks + st.child
		}
	}
	return float64(t) / clockTick
}

// procCPU is the CPU time in seconds one process has used so far, and
// the part of it spent in the kernel.
func procCPU(pid int) (total, sys float64) {
	st, err := readStat(pid)
	if err != nil {
		return 0, 0
	}
	return float64(st.ticks) / clockTick, float64(st.sys) / clockTick
}

// raiseNoFile lifts RLIMIT_NOFILE as far as allowed: thousands of sessions
// need as many descriptors in the client, the MMP and Dovecot, which
// inherit the limit. It returns the soft limit now in force.
func raiseNoFile(want uint64) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Max < want {
		// Root may raise the hard limit; others keep theirs.
		l := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
			return want
		}
	}
	// Setting it explicitly also makes os/exec pass it on to children
	// (Go otherwise restores the limit it found at start-up).
	l := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
		return lim.Max
	}
	return lim.Cur
}

// machine describes the machine for the record.
type machine struct {
	CPU    string
	Cores  int
	Memory string
	Kernel string
}

func readMachine() machine {
	m := machine{Cores: cpuCount()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if kb, err := kbField("/proc/meminfo", "MemTotal"); err == nil {
		m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// machineCPU is the CPU time in seconds the whole machine has spent not
// idle (nor waiting for I/O) since boot, from the first line of /proc/stat.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	// user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return float64(busy) / clockTick
}

// niceUp gives this process, and so every process it starts, a higher
// scheduling priority when allowed (root), so that other work on the
// machine disturbs the measurement less. Linux keeps the nice value per
// thread, and a new thread or child inherits its creator's, so every
// thread of the process is changed. It returns the nice value in force.
func niceUp(to int) int {
	tasks, _ := os.ReadDir("/proc/self/task")
	ok := len(tasks) > 0
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil || syscall.Setpriority(syscall.PRIO_PROCESS, tid, to) != nil {
			ok = false
		}
	}
	if ok {
		return to
	}
	// The raw getpriority(2) returns 20 - nice.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return 0
	}
	return 20 - p
}
