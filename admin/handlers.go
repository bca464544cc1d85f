package admin

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed static
var staticFiles embed.FS

// Handler returns the admin routes, for tests or for mounting the admin
// surface in another server.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog:          promLog{s.opts.Logger},
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /status.json", s.statusJSON)
	mux.HandleFunc("GET /history.json", s.historyJSON)
	mux.Handle("GET /status", staticFile("static/status.html", "text/html; charset=utf-8"))
	mux.Handle("GET /{$}", http.RedirectHandler("/status", http.StatusFound))
	if s.opts.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

// snapshot is what /status.json serves: the source's view with the
// time, the window and recent traffic shares filled in.
func (s *Server) snapshot() Status {
	st := s.opts.Status.Status()
	st.Time = s.now()
	st.WindowSec = s.opts.ShareWindow.Seconds()
	if st.Clusters == nil {
		st.Clusters = []ClusterStatus{}
	}
	s.traffic.annotate(&st, st.Time)
	for i := range st.Clusters {
		for j := range st.Clusters[i].Endpoints {
			e := &st.Clusters[i].Endpoints[j]
			e.EWMA = finite(e.EWMA)
		}
	}
	return st
}

// finite keeps a NaN or infinite estimate (an endpoint with no samples
// yet, say) from making the whole JSON unencodable.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func (s *Server) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(s.snapshot()); err != nil {
		s.opts.Logger.Warn("admin: writing status.json", "err", err)
	}
}

func staticFile(name, contentType string) http.Handler {
	body, err := fs.ReadFile(staticFiles, name)
	if err != nil {
		// The file is embedded at build time: missing means a broken build.
		panic("admin: embedded " + name + ": " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		_, _ = w.Write(body)
	})
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// promLog routes promhttp's errors to slog.
type promLog struct{ log *slog.Logger }

func (l promLog) Println(v ...any) { l.log.Warn("admin: serving metrics", "err", fmt.Sprint(v...)) }
