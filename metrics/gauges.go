package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterValue reads a counter back, for the hit ratio.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if c.Write(&m) != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// BadGuysSource gives the current size of each service's BadGuys table;
// the daemon installs it, since it knows which services run.
type BadGuysSource func(yield func(service string, n int))

// badGuys is mmp_badguys, read from the installed source at each scrape.
var badGuys = &sourceCollector{desc: prometheus.NewDesc("mmp_badguys",
	"Client addresses in the BadGuys table, by service.", []string{"service"}, nil)}

// SetBadGuys installs the source of mmp_badguys (nil: none). The last
// caller wins: one process runs one daemon.
func SetBadGuys(src BadGuysSource) {
	badGuys.mu.Lock()
	badGuys.src = src
	badGuys.mu.Unlock()
}

type sourceCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	src  BadGuysSource
}

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return
	}
	sum := map[string]int{}
	src(func(service string, n int) { sum[service] += n })
	for service, n := range sum {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), service)
	}
}
