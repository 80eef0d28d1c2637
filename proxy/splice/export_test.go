package splice

import "time"

// SetParkAfter changes parkAfter for a benchmark and returns the old value.
func SetParkAfter(d time.Duration) time.Duration {
	old := parkAfter
	parkAfter = d
	return old
}

// StartPoller starts the process's poller, whose one goroutine a test
// counting goroutines must not take for a session's.
func StartPoller() { pollerUsable() }
