package transport

import (
	"bytes"
	"io"
	"net/http"
)

// upstreamRequest prepares r for the backend: the path becomes
// UpstreamPath (query kept), the body is replaced by the bytes already read
// and labelled application/json (see acceptableContentType),
// Accept, when given, replaces the client's (clients send varying Accept
// headers; backends such as the MCP SDKs insist on exact ones), and
// Accept-Encoding is dropped so that replies the adapter inspects arrive
// uncompressed (Caddy's encode handler can compress on the way out).
func (h *Handler) upstreamRequest(r *http.Request, body []byte, accept string) *http.Request {
	out := new(http.Request)
	*out = *r
	u := *r.URL
	u.Path, u.RawPath = h.cfg.UpstreamPath, ""
	out.URL = &u
	out.RequestURI = u.RequestURI()
	if accept != "" {
		out.Header.Set("Accept", accept)
	}
	out.Header.Del("Content-Length")
	out.Header.Del("Accept-Encoding")
	// The body was read whole: no chunking, and no trailers, which some
	// servers fold into headers (a client's X-MCP-Subject trailer would
	// then stand beside the verified one).
	out.Trailer, out.TransferEncoding = nil, nil
	out.Body, out.ContentLength, out.GetBody = http.NoBody, 0, nil
	if body != nil {
		// The bytes the gateway parsed, labelled as it read them.
		out.Header.Set("Content-Type", jsonContentType)
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return out
}
