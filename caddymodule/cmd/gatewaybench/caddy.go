package main

import (
	"crypto/rand"
	"fmt"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mcpgate/mcpgate/caddymodule"
	"github.com/mcpgate/mcpgate/internal/testenv"
	_ "github.com/mcpgate/mcpgate/memoryserver/caddyapp"
)

// benchUser is the one user of the gateway's login page.
const benchUser = "bench"

// stack is the running Caddy: the gateway site, the plain reverse_proxy site
// and the memory server behind both.
type stack struct {
	// gateway, proxy and backend are origins such as http://127.0.0.1:PORT.
	gateway, proxy, backend string
	// password is benchUser's password, made up for this run.
	password string
}

// caddyfileTemplate is the configuration under test. Logs go to a file at
// Caddy's default level (INFO), so the gateway writes its per-request log
// line as a default deployment does; reverse_proxy logs nothing per request
// without a log directive, also as by default.
const caddyfileTemplate = `{
	admin off
	persist_config off
	auto_https off
	%[7]s
	log {
		output file %[1]s/caddy.log
	}
	memoryserver {
		listen %[2]s
		db %[1]s/memory.db
	}
}

http://%[3]s {
	bind 127.0.0.1
	mcp_gateway {
		upstream %[2]s
		users {
			%[5]s %[6]s
		}
	}
}

http://%[4]s {
	bind 127.0.0.1
	reverse_proxy %[2]s
}
`

// startCaddy runs the stack in this process with its state under dir, or
// Caddy's storage in the PostgreSQL database at dsn when set. Stop it with
// caddy.Stop.
func startCaddy(dir, dsn string) (*stack, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := testenv.FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	backend, gateway, proxy := addrs[0], addrs[1], addrs[2]
	password := rand.Text()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	storage := "storage file_system " + filepath.ToSlash(dir) + "/caddy"
	if dsn != "" {
		storage = fmt.Sprintf("storage postgres %q", dsn)
	}
	text := fmt.Sprintf(caddyfileTemplate, filepath.ToSlash(dir), backend, gateway, proxy, benchUser, hash, storage)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(text)), nil)
	if err != nil {
		return nil, fmt.Errorf("adapting the Caddyfile: %v", err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		return nil, fmt.Errorf("starting Caddy: %v", err)
	}
	return &stack{gateway: "http://" + gateway, proxy: "http://" + proxy, backend: "http://" + backend, password: password}, nil
}
