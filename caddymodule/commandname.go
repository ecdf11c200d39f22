package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
)

// commandName is how the operator runs this binary, for the commands that
// help texts and the banner suggest: "go run ." when it was built by
// `go run` (a temporary go-build folder), else the file name it was
// started as (mcpgate, caddy, ...).
func commandName() string {
	if strings.Contains(os.Args[0], string(filepath.Separator)+"go-build") {
		return "go run ."
	}
	return filepath.Base(os.Args[0])
}
