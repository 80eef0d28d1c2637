// Command imapproxy-gcview is ImapProxy for diagnosing the benchmark: the
// same program (daemon.Main), plus, when OPENMMP_GCVIEW is set to a
// loopback address, an HTTP endpoint there with
//
//	/gcview         the Go runtime's view of memory after a forced GC (JSON)
//	/debug/pprof/   the standard profiles (heap, goroutine, ...)
//
// The benchmark runs it instead of cmd/ImapProxy with -gcview, and
// instead of cmd/ImapProxy and cmd/PopProxy with -profile;
// OPENMMP_GCVIEW_NAME names the program it is (default ImapProxy). It is
// not installed or shipped; the MMP itself has no such endpoint.
package main

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"

	"github.com/openmmp/mmp/daemon"
)

func main() {
	if addr := os.Getenv("OPENMMP_GCVIEW"); addr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/gcview", gcview)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go http.ListenAndServe(addr, mux)
	}
	name := os.Getenv("OPENMMP_GCVIEW_NAME")
	if name == "" {
		name = "ImapProxy"
	}
	os.Exit(daemon.Main(name, os.Args[1:]))
}

func gcview(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
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
