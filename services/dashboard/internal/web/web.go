// Package web serves the dashboard: the page and its assets (embedded, so it
// works offline and air-gapped), the versioned JSON API and the event
// stream. Read-only by construction: GET and HEAD only, no endpoint writes.
// The security headers of its answers (the page's Content-Security-Policy
// among them) are every service's: observe.ListenAndServe sets them.
package web

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"time"

	"github.com/weatherstream/weather/services/dashboard/internal/live"
)

//go:embed assets
var assets embed.FS

// Source is what the handlers serve: live.Live.
type Source interface {
	Current() *live.Encoded
	History() ([]byte, error)
	Subscribe() (<-chan struct{}, func())
}

// Register adds the page, the API and the event stream to mux. Event
// streams end when done does (a server's Shutdown waits for its requests).
func Register(mux *http.ServeMux, src Source, done <-chan struct{}) {
	static, _ := fs.Sub(assets, "assets") // the directory is embedded: cannot fail
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", files))
	serve := func(part func(*live.Encoded) []byte) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			enc := src.Current()
			if enc == nil {
				http.Error(w, "no view yet: the first refresh has not finished", http.StatusServiceUnavailable)
				return
			}
			writeJSON(w, part(enc))
		})
	}
	mux.Handle("GET /api/v1/view", serve(func(e *live.Encoded) []byte { return e.View }))
	mux.Handle("GET /api/v1/stations", serve(func(e *live.Encoded) []byte { return e.Stations }))
	mux.Handle("GET /api/v1/partitions", serve(func(e *live.Encoded) []byte { return e.Partitions }))
	mux.HandleFunc("GET /api/v1/lag", func(w http.ResponseWriter, _ *http.Request) {
		b, err := src.History()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, b)
	})
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		events(w, r, src, done)
	})
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// keepAlive is how often an idle stream gets a comment line, so proxies
// (kubectl port-forward, ingresses) do not close it.
const keepAlive = 15 * time.Second

// events streams the view as server-sent events: the current one at once,
// then each new one. A slow client skips views, never delays the others.
func events(w http.ResponseWriter, r *http.Request, src Source, done <-chan struct{}) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	updates, unsubscribe := src.Subscribe()
	defer unsubscribe()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	send := func() bool {
		if enc := src.Current(); enc != nil {
			if _, err := w.Write(eventOf(enc.View)); err != nil {
				return false
			}
		}
		flusher.Flush()
		return true
	}
	for ok := send(); ok; {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case <-updates:
			ok = send()
		case <-ping.C:
			_, err := w.Write([]byte(": keep-alive\n\n"))
			flusher.Flush()
			ok = err == nil
		}
	}
}

// eventOf is one "view" event; the view's JSON has no newline.
func eventOf(view []byte) []byte {
	b := make([]byte, 0, len(view)+20)
	b = append(b, "event: view\ndata: "...)
	b = append(b, view...)
	return append(b, "\n\n"...)
}
