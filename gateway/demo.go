package gateway

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed demo
var demoFiles embed.FS

// demoHandler serves the demo call page at "/" and 404s everything else
// that no other route claims.
func demoHandler() http.Handler {
	sub, err := fs.Sub(demoFiles, "demo")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "method not allowed"})
			return
		}
		if _, err := fs.Stat(sub, cleanPath(r.URL.Path)); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "not found"})
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func cleanPath(p string) string {
	if p == "/" || p == "" {
		return "index.html"
	}
	if p[0] == '/' {
		p = p[1:]
	}
	return p
}
