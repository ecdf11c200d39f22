package authserver

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
)

// readBody reads r's body, refusing more than max bytes.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		return nil, errors.New("request body larger than " + strconv.FormatInt(max, 10) + " bytes")
	}
	return body, err
}

// readForm reads a bounded form post into r.PostForm (see parseFormBody).
func readForm(w http.ResponseWriter, r *http.Request, max int64) *oauthError {
	if r.Method != http.MethodPost {
		return &oauthError{status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "use POST"}
	}
	body, err := readBody(w, r, max)
	if err != nil {
		return errInvalidRequest(err.Error())
	}
	form, e := parseFormBody(r.Header.Get("Content-Type"), body)
	if e != nil {
		return e
	}
	r.PostForm = form
	return nil
}

// parseFormBody parses an application/x-www-form-urlencoded body. A
// parameter may appear only once (RFC 6749 §3.1, §3.2).
func parseFormBody(contentType string, body []byte) (url.Values, *oauthError) {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("the body must be application/x-www-form-urlencoded")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("malformed form body")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, errInvalidRequest("parameter " + strconv.Quote(k) + " is repeated")
		}
	}
	return form, nil
}
