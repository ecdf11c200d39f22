package guard

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestBearerToken(t *testing.T) {
	cases := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc.def-_~+/=", "abc.def-_~+/=", true},
		{"bearer  abc", "abc", true},
		{"Bearer", "", true},
		{"Bearer a b", "", true},
		{"Bearer ===", "", true},
		{"Basic YWxpY2U6", "", false},
		{"", "", false},
		{"Bearerabc", "", false},
	}
	for _, c := range cases {
		token, ok := bearerToken(c.header)
		if token != c.token || ok != c.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", c.header, token, ok, c.token, c.ok)
		}
	}
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer ==", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := bearerToken(header)
		if !ok && token != "" {
			t.Fatal("token without a Bearer scheme")
		}
		if token != "" && (!isToken68(token) || !strings.HasSuffix(header, token)) {
			t.Fatalf("token %q not a token68 suffix of %q", token, header)
		}
	})
}

// FuzzAdmit checks that no mutation of a valid token is admitted, except
// re-encodings of the same bytes (base64url decoding ignores unused
// trailing bits).
func FuzzAdmit(f *testing.F) {
	fx := newFixture(f, nil)
	valid := fx.token(nil)
	f.Add(valid)
	f.Add(tamper(f, valid))
	f.Add(strings.TrimSuffix(valid, valid[len(valid)-4:]))
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		_, got := fx.admit("Bearer "+token, nil)
		if got != nil && !sameSegments(token, valid) {
			t.Fatalf("admitted %q", token)
		}
	})
}

// sameSegments reports whether two compact JWS decode to the same bytes.
func sameSegments(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		x, errX := base64.RawURLEncoding.DecodeString(as[i])
		y, errY := base64.RawURLEncoding.DecodeString(bs[i])
		if errX != nil || errY != nil || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}
