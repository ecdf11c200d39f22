package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CA is a throwaway certificate authority that the test process trusts as
// its system roots, through SSL_CERT_FILE: code under test that verifies
// certificates against x509.SystemCertPool then accepts what it signs,
// exactly as it would a public CA's, with no test hook in the code.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

// TrustThrowawayCA creates a CA, writes its certificate to a temporary
// file and points SSL_CERT_FILE (and an empty SSL_CERT_DIR) at it. Go reads
// the system roots once per process, so call it from TestMain, before
// anything loads them; call Close when the tests are done.
func TrustThrowawayCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mcpgate throwaway test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mcpgate-ca-")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	os.Setenv("SSL_CERT_FILE", file)
	os.Setenv("SSL_CERT_DIR", dir) // holds only ca.pem: no system certificates
	trusted = &CA{cert: cert, key: key, dir: dir}
	return trusted, nil
}

// trusted is the CA TrustThrowawayCA made in this process.
var trusted *CA

// TrustedCA returns the CA the process trusts since TrustThrowawayCA (for
// tests in another package of the same test binary than its TestMain), or
// fails the test when there is none.
func TrustedCA(t testing.TB) *CA {
	t.Helper()
	if trusted == nil {
		t.Fatal("no throwaway CA: call testenv.TrustThrowawayCA from TestMain")
	}
	return trusted
}

// Close removes the CA's files.
func (ca *CA) Close() { os.RemoveAll(ca.dir) }

// DocumentHost is an HTTPS server on 127.0.0.1 with a certificate from the
// CA, for the names given (and 127.0.0.1), that counts the requests it
// gets.
type DocumentHost struct {
	*httptest.Server
	mu    sync.Mutex
	hits  map[string]int
	conns int
	mux   *http.ServeMux
}

// NewDocumentHost starts a document host; names are the DNS names its
// certificate covers (resolve them to 127.0.0.1 in the code under test).
func (ca *CA) NewDocumentHost(t testing.TB, names ...string) *DocumentHost {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "document host"},
		DNSNames:     append([]string{"localhost"}, names...),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	h := &DocumentHost{hits: map[string]int{}, mux: http.NewServeMux()}
	h.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits[r.URL.Path]++
		h.mu.Unlock()
		h.mux.ServeHTTP(w, r)
	}))
	h.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			h.mu.Lock()
			h.conns++
			h.mu.Unlock()
		}
	}
	h.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	h.StartTLS()
	t.Cleanup(h.Close)
	return h
}

// Handle serves path with handler.
func (h *DocumentHost) Handle(path string, handler http.HandlerFunc) { h.mux.Handle(path, handler) }

// JSON serves body at path as application/json, with the given headers.
func (h *DocumentHost) JSON(path, body string, header ...string) {
	h.Handle(path, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	})
}

// Hits returns how many requests path got; "" counts every path.
func (h *DocumentHost) Hits(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if path != "" {
		return h.hits[path]
	}
	n := 0
	for _, c := range h.hits {
		n += c
	}
	return n
}

// Connections returns how many TCP connections the host accepted, TLS
// handshake or not.
func (h *DocumentHost) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns
}

// Port is the port the host listens on.
func (h *DocumentHost) Port() string {
	_, port, _ := net.SplitHostPort(h.Listener.Addr().String())
	return port
}
