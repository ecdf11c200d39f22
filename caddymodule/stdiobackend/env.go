package stdiobackend

import (
	"os"
	"sort"
)

// inherited are the gateway's environment variables a child gets: what
// programs need to find themselves and their locale, nothing that could
// hold a secret (the gateway's own credentials, tokens in {env.*}).
var inherited = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// childEnv is the environment of a child for a subject (escaped).
func (c *Config) childEnv(escapedSubject string) []string {
	vars := map[string]string{}
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	for k, v := range c.Env {
		vars[k] = expand(v, escapedSubject)
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}
