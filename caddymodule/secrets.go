package caddymodule

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// A secret that comes from the environment ({env.NAME}) or a file
// ({file./path}) and turns out empty must stop the start, not weaken
// it: an empty secret_hash turns a confidential client into a public one
// (anyone may then use its id), an empty user hash is a broken login, an
// empty initial access token opens registration to whoever guesses
// "Bearer ". So every such placeholder must expand to something, and the
// error names the variable or file to fix. (first_user's password is not
// a secret of this kind: empty means "generate one".)

// secretPlaceholder matches the placeholders of a secret read at run time.
var secretPlaceholder = regexp.MustCompile(`\{(env|file)\.([^{}]+)\}`)

// expandSecret returns raw with its placeholders replaced, or an error
// naming each {env.*} or {file.*} placeholder in it that expands to
// nothing, or saying that the whole value does.
func expandSecret(repl *caddy.Replacer, what, raw string) (string, error) {
	var errs []error
	for _, m := range secretPlaceholder.FindAllStringSubmatch(raw, -1) {
		if repl.ReplaceAll(m[0], "") != "" {
			continue
		}
		if m[1] == "env" {
			errs = append(errs, fmt.Errorf("%s: %s is empty: set the environment variable %s", what, m[0], m[2]))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s is empty: the file %s is missing or empty", what, m[0], m[2]))
		}
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	v := repl.ReplaceAll(raw, "")
	if raw != "" && strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%s is empty", what)
	}
	return v, nil
}

// checkSecrets reports every configured secret that expands to nothing.
func (g *Gateway) checkSecrets(repl *caddy.Replacer) error {
	var errs []error
	check := func(what, raw string) {
		if _, err := expandSecret(repl, what, raw); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(g.Auth.Users)) {
		check(fmt.Sprintf("users: %s's password hash", name), g.Auth.Users[name])
	}
	check("registration token: the initial access token", g.Auth.Registration.InitialAccessToken)
	for _, c := range g.Auth.Clients {
		check(fmt.Sprintf("client %s: secret_hash", c.ID), c.SecretHash)
	}
	for _, res := range g.Resources {
		check(fmt.Sprintf("resource %s: backend_authorization", res.Path), res.BackendAuthorization)
	}
	return errors.Join(errs...)
}
