// Command imapproxy-gcview is ImapProxy for diagnosing the benchmark: the
// same program (daemon.Main), plus, when OPENMMP_GCVIEW is set to a
// loopback address, an HTTP endpoint there with
//
//	/gcview         the Go runtime's view of memory after a forced GC (JSON)
//	/debug/pprof/   the standard profiles (heap, goroutine, ...)
//
// The benchmark runs it instead of cmd/ImapProxy with -gcview, and
// instead of cmd/ImapProxy and cmd/PopProxy with -profile;
// OPENMMP_GCVIEW_NAME names the program it is (default ImapProxy). With
// OPENMMP_GCVIEW_HEAP set to a path prefix, every allocation is sampled
// (runtime.MemProfileRate 1) and each /gcview also writes the heap
// profile after its collection to PREFIX-NAME-N.pprof (N counting from
// 1): the profiles before and after the benchmark opens its idle
// sessions, for go tool pprof -base. It is not installed or shipped; the
// MMP itself has no such endpoint.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"

	"github.com/openmmp/mmp/daemon"
)

var (
	heapPrefix string
	heapN      atomic.Int64
	name       string
)

func main() {
	heapPrefix = os.Getenv("OPENMMP_GCVIEW_HEAP")
	if heapPrefix != "" {
		runtime.MemProfileRate = 1
	}
	name = os.Getenv("OPENMMP_GCVIEW_NAME")
	if name == "" {
		name = "ImapProxy"
	}
	if addr := os.Getenv("OPENMMP_GCVIEW"); addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/gcview", gcview)
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
		go http.ListenAndServe(addr, mux)
	}
	os.Exit(daemon.Main(name, os.Args[1:]))
}

func gcview(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if heapPrefix != "" {
		if f, err := os.Create(fmt.Sprintf("%s-%s-%d.pprof", heapPrefix, name, heapN.Add(1))); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	json.NewEncoder(w).Encode(map[string]any{
		"HeapAlloc":    m.HeapAlloc,
		"HeapInuse":    m.HeapInuse,
		"StackInuse":   m.StackInuse,
		"MSpanInuse":   m.MSpanInuse,
		"OtherSys":     m.OtherSys,
		"Sys":          m.Sys,
		"HeapReleased": m.HeapReleased,
		"Goroutines":   runtime.NumGoroutine(),
		"NumGC":        m.NumGC,
	})
}
