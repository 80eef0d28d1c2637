package splice

import "time"

// SetParkAfter changes parkAfter for a benchmark and returns the old value.
func SetParkAfter(d time.Duration) time.Duration {
	old := parkAfter
	parkAfter = d
	return old
}
