package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/openmmp/mmp/config"
	"github.com/openmmp/mmp/directory"
	"github.com/openmmp/mmp/metrics"
	"github.com/openmmp/mmp/param"
)

// Health checks of the directory are cached this long, so that load
// balancers polling /healthz every second cost one base-DN read per
// period, and each read gives up after healthTimeout.
const (
	healthCacheFor = 3 * time.Second
	healthTimeout  = 2 * time.Second
)

// monitor serves MetricsListen: /metrics and /healthz. It sees the
// services through a snapshot the main loop publishes after start and
// after each refresh, so scrapes never touch the supervisor's state.
type monitor struct {
	dir *directory.Directory
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	services []*service
	inst     *config.Instance
	stopping bool

	checkMu   sync.Mutex // one directory check at a time
	checkedAt time.Time
	checkErr  error
}

// listenMonitor opens MetricsListen, or returns nil when it is unset.
// It is opened with the service ports, before the privilege switch.
func listenMonitor(inst *config.Instance, dir *directory.Directory) (*monitor, error) {
	addr := config.Get(inst.Daemon, param.MetricsListen)
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("MetricsListen: %w", err)
	}
	m := &monitor{dir: dir, ln: ln}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler())
	mux.HandleFunc("/healthz", m.healthz)
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return m, nil
}

// serve runs the HTTP server until close.
func (m *monitor) serve() {
	go m.srv.Serve(m.ln)
}

// publish records the services now running, for /healthz and the
// BadGuys gauge. The main loop calls it after start and each refresh.
func (m *monitor) publish(sup *supervisor) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.services = append([]*service(nil), sup.services...)
	m.inst = sup.inst
	m.mu.Unlock()
	metrics.SetBadGuys(func(yield func(string, int)) {
		m.mu.Lock()
		services := m.services
		m.mu.Unlock()
		for _, r := range services {
			yield(metricsService(r.srv.Service().Protocol), r.srv.BadGuys())
		}
	})
}

// metricsService is the service label of the proxy's metrics.
func metricsService(p param.Where) string {
	switch p {
	case param.POP:
		return "pop"
	case param.SMTP:
		return "smtp"
	}
	return "imap"
}

// stop makes /healthz answer 503 from now on: the daemon is draining,
// and a load balancer should send new clients elsewhere.
func (m *monitor) stop() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.stopping = true
	m.mu.Unlock()
}

// close stops the HTTP server.
func (m *monitor) close() {
	if m == nil {
		return
	}
	metrics.SetBadGuys(nil)
	m.srv.Close()
}

// healthz answers 200 "ok" when the daemon serves and the directory
// answers, else 503 with the reason.
func (m *monitor) healthz(w http.ResponseWriter, r *http.Request) {
	// Not the request's context: a client that hangs up must not leave
	// its cancellation cached as the directory's state.
	if err := m.health(context.Background()); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (m *monitor) health(ctx context.Context) error {
	m.mu.Lock()
	services, inst, stopping := m.services, m.inst, m.stopping
	m.mu.Unlock()
	switch {
	case stopping:
		return errors.New("stopping")
	case len(services) == 0:
		return errors.New("no service is listening")
	}
	return m.checkDirectory(ctx, inst)
}

// checkDirectory reads the base DN of each directory the IMAP and POP
// services use (Directory.Probe), at most once per healthCacheFor.
func (m *monitor) checkDirectory(ctx context.Context, inst *config.Instance) error {
	m.checkMu.Lock()
	defer m.checkMu.Unlock()
	if !m.checkedAt.IsZero() && time.Since(m.checkedAt) < healthCacheFor {
		return m.checkErr
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	seen := map[string]bool{}
	var errs []string
	for _, svc := range inst.Services {
		if svc.Protocol != param.IMAP && svc.Protocol != param.POP {
			continue
		}
		u, dn, pw := config.Get(svc.Values, param.LdapUrl), config.Get(svc.Values, param.BindDN), config.Get(svc.Values, param.BindPass)
		key := u.String() + "\x00" + dn + "\x00" + pw
		if seen[key] {
			continue
		}
		seen[key] = true
		if _, err := m.dir.Probe(ctx, u, dn, pw); err != nil {
			errs = append(errs, fmt.Sprintf("directory %s: %v", u.String(), err))
		}
	}
	m.checkErr = nil
	if len(errs) > 0 {
		m.checkErr = errors.New(strings.Join(errs, "; "))
	}
	m.checkedAt = time.Now()
	return m.checkErr
}
