// Package browsertest drives the authorization server's login and consent
// pages the way a person's browser does: it keeps cookies, reads each page's
// form (hidden fields such as the CSRF token included), fills it in and
// submits it, until the server redirects to the client's redirect URI.
// Tests use it where a real client would open a browser.
package browsertest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// Browser is a cookie-keeping HTTP client that stops at every redirect.
type Browser struct {
	client *http.Client
}

// New returns a Browser that sends its requests through transport
// (http.DefaultTransport when nil).
func New(transport http.RoundTripper) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{client: &http.Client{
		Transport: transport,
		Jar:       jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Authorize opens authURL, logs in as user with password when a login form
// appears, answers the consent form with decision ("approve" or "deny"), and
// returns the URL the server finally redirects to outside its own origin:
// the client's redirect URI with code or error. A page without a form, or an
// unexpected status, is returned as an error that quotes the page.
func (b *Browser) Authorize(authURL, user, password, decision string) (*url.URL, error) {
	return b.walk(authURL, nil, 10, func(forms []*form) *form {
		f := forms[0]
		if _, ok := f.fields["password"]; ok {
			f.fields.Set("username", user)
			f.fields.Set("password", password)
		} else {
			f.fields.Set("decision", decision)
		}
		return f
	})
}

// AuthorizeUpstream is Authorize for a person who signs in at an upstream
// provider: on the login page it presses the button "Sign in with
// <label>", at the provider (whose origin is provider) it fills the sign-in
// form (inputs login and password), and it follows redirects between the
// two until one leaves both: the client's redirect URI, returned. The
// consent page is answered with decision.
func (b *Browser) AuthorizeUpstream(authURL, provider, label, login, password, decision string) (*url.URL, error) {
	return b.walk(authURL, []string{provider}, 20, func(forms []*form) *form {
		f := forms[0]
		for _, g := range forms {
			if g.button == "Sign in with "+label {
				f = g
			}
		}
		switch {
		case f.button == "Sign in with "+label:
		case f.fields.Has("login"):
			f.fields.Set("login", login)
			f.fields.Set("password", password)
		default:
			f.fields.Set("decision", decision)
		}
		return f
	})
}

// walk follows the pages from authURL, submitting on each the form that
// fill chooses and fills, and returns the first redirect that leaves
// authURL's origin and the origins of others: the client's redirect URI.
// A page without a form, or an unexpected status, is an error that quotes
// the page.
func (b *Browser) walk(authURL string, others []string, maxPages int, fill func([]*form) *form) (*url.URL, error) {
	start, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	inside := func(u *url.URL) bool {
		o := u.Scheme + "://" + u.Host
		return o == start.Scheme+"://"+start.Host || slices.Contains(others, o)
	}
	req, _ := http.NewRequest(http.MethodGet, authURL, nil)
	for range maxPages {
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, err
			}
			if !inside(next) {
				return next, nil
			}
			req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: status %d: %s", resp.Request.URL, resp.StatusCode, alertOrSnippet(body))
		}
		forms, err := parseForms(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %s", resp.Request.URL, err, snippet(body))
		}
		f := fill(forms)
		action, err := resp.Request.URL.Parse(f.action)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(f.method, http.MethodGet) {
			action.RawQuery = f.fields.Encode()
			req, _ = http.NewRequest(http.MethodGet, action.String(), nil)
			continue
		}
		req, _ = http.NewRequest(http.MethodPost, action.String(), strings.NewReader(f.fields.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return nil, fmt.Errorf("no redirect to the client after %d pages", maxPages)
}

// Get fetches url with the browser's cookies, without following redirects.
func (b *Browser) Get(url string) (*http.Response, error) {
	return b.client.Get(url)
}

// PostForm posts values to url with the browser's cookies.
func (b *Browser) PostForm(url string, values url.Values) (*http.Response, error) {
	return b.client.PostForm(url, values)
}

type form struct {
	action, method string
	fields         url.Values
	button         string // the text of its first button
}

// parseForms returns every form of page, at least one.
func parseForms(page []byte) ([]*form, error) {
	doc, err := html.Parse(strings.NewReader(string(page)))
	if err != nil {
		return nil, err
	}
	var forms []*form
	var walk func(*html.Node, *form)
	walk = func(n *html.Node, f *form) {
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "form":
				f = &form{action: attr(n, "action"), method: attr(n, "method"), fields: url.Values{}}
				forms = append(forms, f)
			case n.Data == "input" && f != nil && attr(n, "name") != "" && attr(n, "type") != "submit":
				f.fields.Set(attr(n, "name"), attr(n, "value"))
			case n.Data == "button" && f != nil && f.button == "" && n.FirstChild != nil:
				f.button = strings.TrimSpace(n.FirstChild.Data)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	if len(forms) == 0 {
		return nil, errors.New("no form on the page")
	}
	return forms, nil
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// alertOrSnippet returns the text of the page's alert (role="alert"), the
// message of an error page, or else its start.
func alertOrSnippet(body []byte) string {
	_, rest, ok := strings.Cut(string(body), `role="alert">`)
	if msg, _, closed := strings.Cut(rest, "</"); ok && closed {
		return html.UnescapeString(msg)
	}
	return snippet(body)
}

func snippet(body []byte) string {
	const max = 400
	if len(body) > max {
		return string(body[:max]) + "..."
	}
	return string(body)
}
