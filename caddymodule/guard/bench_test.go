package guard

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkAdmitCached measures Admit for a token already verified.
func BenchmarkAdmitCached(b *testing.B) {
	f := newFixture(b, nil)
	r := httptest.NewRequest(http.MethodPost, testOrigin+"/mcp", nil)
	auth := "Bearer " + f.token(nil)
	w := httptest.NewRecorder()
	for b.Loop() {
		r.Header.Set("Authorization", auth)
		if _, ok := f.guard.Admit(w, r); !ok {
			b.Fatal("refused")
		}
	}
}

// BenchmarkAdmitUncached measures Admit with full signature verification
// (a fresh token every iteration).
func BenchmarkAdmitUncached(b *testing.B) {
	f := newFixture(b, nil)
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = "Bearer " + f.token(func(c map[string]any) { c["jti"] = strconv.Itoa(i) })
	}
	r := httptest.NewRequest(http.MethodPost, testOrigin+"/mcp", nil)
	w := httptest.NewRecorder()
	i := 0
	for b.Loop() {
		f.guard.tokens = newTokenCache(DefaultCacheSize)
		r.Header.Set("Authorization", tokens[i%len(tokens)])
		i++
		if _, ok := f.guard.Admit(w, r); !ok {
			b.Fatal("refused")
		}
	}
}
