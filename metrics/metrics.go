// Package metrics owns the process's Prometheus registry and the
// definitions of every metric (the only importer of
// prometheus/client_golang). The proxy and the daemon record through the
// functions here; the directory gets callbacks from the daemon, so that
// it needs no import of its own. Labels are bounded: a service (imap,
// pop, smtp), an outcome, a store address (mail hosts come from the
// directory), never a user name or a client address.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registry is the process's: one AService is one process.
var registry = prometheus.NewRegistry()

var (
	logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mmp_logins_total",
		Help: "Logins by service and outcome (logged in, bad credentials, not authorized, unavailable, store down, store refused, too many sessions).",
	}, []string{"service", "outcome"})
	sessions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mmp_sessions_active",
		Help: "Client connections open, before or after login, by service.",
	}, []string{"service"})
	loggedIn = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "mmp_sessions_logged_in",
		Help: "Sessions piping to a store (or relay), by service and store address.",
	}, []string{"service", "store"})
	bytesRelayed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mmp_relayed_bytes_total",
		Help: "Bytes piped after login, by service and direction (from_client, from_store), counted when the session ends.",
	}, []string{"service", "direction"})
	refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mmp_connections_refused_total",
		Help: "Connections and logins refused for a limit or a filter, by service and reason (tcpaccess, connlimits, usersessions, fleet).",
	}, []string{"service", "reason"})
	storeConnect = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "mmp_store_connect_seconds",
		Help:    "Time to connect to a store and read its greeting (TLS included), by store address.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"store"})
	storeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mmp_store_connect_failures_total",
		Help: "Failed connections to a store (connect, TLS or greeting), by store address.",
	}, []string{"store"})
	ldapLookup = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mmp_ldap_lookup_seconds",
		Help:    "Time of the LDAP searches of user lookups (cache hits excluded).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	fleetErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mmp_fleet_errors_total",
		Help: "Failed calls to the fleet's Redis (FleetRedis), by operation (connlimits, badguys, usersessions, popauth, release, renew, ping, queue).",
	}, []string{"operation"})
	fleetUp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mmp_fleet_up",
		Help: "1 while the fleet's Redis answers, 0 while it is down and each MMP uses its own state; absent without FleetRedis.",
	})
	ldapCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mmp_ldap_cache_lookups_total",
		Help: "User lookups by result: hit when the lookup cache (LdapCacheTTL) answered, miss when LDAP was searched.",
	}, []string{"result"})
)

func init() {
	registry.MustRegister(logins, sessions, loggedIn, bytesRelayed, refusals, storeConnect, storeFailures,
		ldapLookup, ldapCache, badGuys, fleetErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mmp_ldap_cache_hit_ratio",
			Help: "Hits over lookups of the user lookup cache since the start (0 before the first lookup).",
		}, hitRatio),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry})
}

// Login counts a login's outcome (proxy.Outcome's text).
func Login(service, outcome string) { logins.WithLabelValues(service, outcome).Inc() }

// SessionOpened counts a client connection; Close on what it returns
// ends it (call it once). A value, not a closure: a logged-in session
// keeps it for its whole life, and an idle session's memory is counted in
// octets (docs/benchmarks.md).
func SessionOpened(service string) OpenSession {
	g := sessions.WithLabelValues(service)
	g.Inc()
	return OpenSession{g}
}

// OpenSession is a client connection counted by SessionOpened.
type OpenSession struct{ g prometheus.Gauge }

// Close ends the connection's count.
func (o OpenSession) Close() { o.g.Dec() }

// Piping counts a session logged in to store; End on what it returns
// ends it with the bytes moved each way (call it once).
func Piping(service, store string) PipingSession {
	g := loggedIn.WithLabelValues(service, store)
	g.Inc()
	return PipingSession{g}
}

// PipingSession is a logged-in session counted by Piping. It is only the
// gauge: every idle session holds one, and its service is known to the
// caller anyway (End).
type PipingSession struct{ g prometheus.Gauge }

// End ends the session's count and adds its bytes to service's (the one
// Piping was given); the bytes first, so that who sees the session gone
// sees its bytes.
func (p PipingSession) End(service string, fromClient, fromStore int64) {
	bytesRelayed.WithLabelValues(service, "from_client").Add(float64(fromClient))
	bytesRelayed.WithLabelValues(service, "from_store").Add(float64(fromStore))
	p.g.Dec()
}

// Refused counts a connection refused at accept.
func Refused(service, reason string) { refusals.WithLabelValues(service, reason).Inc() }

// Refusal reasons of Refused.
const (
	RefusedTCPAccess    = "tcpaccess"    // TCPAccess said no
	RefusedConnLimits   = "connlimits"   // the client address is at its ConnLimits
	RefusedUserSessions = "usersessions" // the user is at MaxUserSessions
	RefusedFleet        = "fleet"        // FleetFailClosed with the fleet's Redis down
)

// FleetError counts a failed call to the fleet's Redis.
func FleetError(op string) { fleetErrors.WithLabelValues(op).Inc() }

var fleetOnce sync.Once

// FleetUp sets mmp_fleet_up; the gauge appears with the first call.
func FleetUp(up bool) {
	fleetOnce.Do(func() { registry.MustRegister(fleetUp) })
	if up {
		fleetUp.Set(1)
	} else {
		fleetUp.Set(0)
	}
}

// StoreConnect records one attempt to connect to a store: its time on
// success, a failure otherwise.
func StoreConnect(store string, took time.Duration, err error) {
	if err != nil {
		storeFailures.WithLabelValues(store).Inc()
		return
	}
	storeConnect.WithLabelValues(store).Observe(took.Seconds())
}

var cacheHits, cacheMisses = ldapCache.WithLabelValues("hit"), ldapCache.WithLabelValues("miss")

// DirectoryLookup records a user lookup (directory.Options.Observe):
// answered by the cache, or by an LDAP search that took search.
func DirectoryLookup(cached bool, search time.Duration) {
	if cached {
		cacheHits.Inc()
		return
	}
	cacheMisses.Inc()
	ldapLookup.Observe(search.Seconds())
}

func hitRatio() float64 {
	h, m := counterValue(cacheHits), counterValue(cacheMisses)
	if h+m == 0 {
		return 0
	}
	return h / (h + m)
}
