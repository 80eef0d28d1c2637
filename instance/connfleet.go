package instance

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/fleet"
	"github.com/openmmp/mmp/who"
)

// fleetSource returns the fleet's Redis as the source of answers when an
// instance under root sets FleetRedis (the first one that does, by name;
// others that name another Redis are reported); nil otherwise. While
// Redis cannot be reached it falls back on local, the AService processes
// of this machine (nil: none runs), and says so.
func fleetSource(root string, names []string, stdio IO, local *localSource) (connSource, error) {
	var cfg fleet.Config
	from := ""
	for _, n := range names {
		inst, _ := config.Load(filepath.Join(root, n), config.Options{})
		if inst == nil || inst.Daemon == nil {
			continue
		}
		c := fleet.ConfigFrom(inst.Daemon, nil)
		if !c.URL.Set() {
			continue
		}
		if from == "" {
			cfg, from = c, n
		} else if c.URL.String() != cfg.URL.String() || c.Prefix != cfg.Prefix {
			fmt.Fprintf(stdio.Err, "imsconnutil: instance %s names another fleet (%s) than %s; asking %s's\n", n, c.URL, from, from)
		}
	}
	if from == "" {
		return nil, nil
	}
	// imsconnutil waits for its answers; the login path's short timeout
	// does not apply.
	cfg.CallTimeout = 5 * time.Second
	cl, err := fleet.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("no MMP answers: FleetRedis of %s: %v", from, err)
	}
	return &fleetConn{c: cl, url: cfg.URL.String(), local: local, err: stdio.Err}, nil
}

// fleetConn asks the fleet's Redis.
type fleetConn struct {
	c     *fleet.Client
	url   string
	local *localSource // the fallback; nil if no AService runs here
	err   io.Writer
}

// fallback reports that Redis failed and whether the MMPs of this
// machine can answer instead; the answer is then partial.
func (f *fleetConn) fallback(err error) bool {
	if f.local == nil {
		return false
	}
	fmt.Fprintf(f.err, "imsconnutil: the fleet's Redis at %s: %v; answering for the MMPs of this machine only\n", f.url, err)
	return true
}

// partial marks a fallback answer as lacking the other MMPs.
func partial(err error) error {
	if err == nil {
		return errPartial
	}
	return err
}

func (f *fleetConn) close() { f.c.Close() }

func (f *fleetConn) fail(err error) error {
	return fmt.Errorf("no MMP answers: the fleet's Redis at %s: %v", f.url, err)
}

func (f *fleetConn) list(ctx context.Context, m who.Matcher, service string) ([]who.Session, error) {
	ss, live, err := f.c.FleetSessions(ctx, m, service)
	if err != nil {
		if f.fallback(err) {
			ss, err := f.local.list(ctx, m, service)
			return ss, partial(err)
		}
		return nil, f.fail(err)
	}
	if live == 0 {
		return nil, fmt.Errorf("no MMP answers: no MMP is registered in the fleet's Redis at %s", f.url)
	}
	return ss, nil
}

// kick publishes the kick, then waits (a little) for the sessions it
// ends to leave Redis, and reports those it saw go.
func (f *fleetConn) kick(ctx context.Context, m who.Matcher) ([]who.Session, string, error) {
	before, live, err := f.c.FleetSessions(ctx, m, "")
	if err == nil {
		var heard int64
		heard, err = f.c.KickUsers(ctx, m.Names())
		if err == nil {
			return f.awaitKick(ctx, m, before, live, heard)
		}
	}
	if f.fallback(err) {
		ss, note, err := f.local.kick(ctx, m)
		return ss, note, partial(err)
	}
	return nil, "", f.fail(err)
}

// awaitKick waits (a little) for the sessions a kick ends to leave
// Redis, and reports those it saw go.
func (f *fleetConn) awaitKick(ctx context.Context, m who.Matcher, before []who.Session, live int, heard int64) ([]who.Session, string, error) {
	if heard == 0 {
		return nil, "", fmt.Errorf("no MMP answers: no MMP listens for kicks on the fleet's Redis at %s (%d registered)", f.url, live)
	}
	// Each MMP ends the sessions at once and tells Redis within a moment.
	var gone []who.Session
	deadline := time.Now().Add(3 * time.Second)
	for {
		after, _, err := f.c.FleetSessions(ctx, m, "")
		if err != nil {
			return nil, "", f.fail(err)
		}
		left := map[string]bool{}
		for _, s := range after {
			left[s.MMP+"#"+fmt.Sprint(s.ID)] = true
		}
		gone = gone[:0]
		for _, s := range before {
			if !left[s.MMP+"#"+fmt.Sprint(s.ID)] {
				gone = append(gone, s)
			}
		}
		if len(gone) == len(before) || time.Now().After(deadline) || ctx.Err() != nil {
			note := fmt.Sprintf("%d session(s) ended; the kick reached %d MMP(s)", len(gone), heard)
			if len(gone) < len(before) {
				note += fmt.Sprintf("; %d session(s) still listed", len(before)-len(gone))
			}
			return gone, note, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fleetConn) last(ctx context.Context, m who.Matcher) ([]who.Access, error) {
	as, err := f.c.FleetLastAccess(ctx, m)
	if err != nil {
		if f.fallback(err) {
			as, err := f.local.last(ctx, m)
			return as, partial(err)
		}
		return nil, f.fail(err)
	}
	return as, nil
}
