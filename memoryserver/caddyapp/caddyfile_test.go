package caddyapp

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

func TestCaddyfileAdapt(t *testing.T) {
	tests := []struct {
		name, caddyfile string
		want            map[string]any // the "memoryserver" app's JSON
	}{
		{
			name: "every option",
			caddyfile: `{
				memoryserver {
					listen 127.0.0.1:17800
					db ./data/memory.db
					subject_header X-MCP-Subject
					max_body 4MiB
				}
			}`,
			want: map[string]any{
				"listen":         "127.0.0.1:17800",
				"db":             "./data/memory.db",
				"subject_header": "X-MCP-Subject",
				"max_body":       float64(4 << 20),
			},
		},
		{
			name:      "bare option uses defaults",
			caddyfile: "{\n memoryserver\n}",
			want:      map[string]any{},
		},
		{
			name:      "subject_header without a name",
			caddyfile: "{\n memoryserver {\n subject_header\n }\n}",
			want:      map[string]any{"subject_header": "X-MCP-Subject"},
		},
		{
			name:      "placeholders are kept for Provision",
			caddyfile: "{\n memoryserver {\n db {env.MEMORY_DB}\n }\n}",
			want:      map[string]any{"db": "{env.MEMORY_DB}"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := adapt(tt.caddyfile)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Apps map[string]map[string]any `json:"apps"`
			}
			if err := json.Unmarshal(cfg, &got); err != nil {
				t.Fatal(err)
			}
			if app := got.Apps["memoryserver"]; !reflect.DeepEqual(app, tt.want) {
				t.Errorf("memoryserver app = %v, want %v\nconfig: %s", app, tt.want, cfg)
			}
		})
	}
}

func TestCaddyfileErrors(t *testing.T) {
	tests := []struct{ name, caddyfile, wantErr string }{
		{"unknown option", "{\n memoryserver {\n port 1\n }\n}", "unrecognized memoryserver option"},
		{"bad size", "{\n memoryserver {\n max_body lots\n }\n}", "parsing max_body"},
		{"two listen args", "{\n memoryserver {\n listen a b\n }\n}", "wrong argument count"},
		{"missing db arg", "{\n memoryserver {\n db\n }\n}", "wrong argument count"},
		{"inline argument", "{\n memoryserver 127.0.0.1:1\n}", "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adapt(tt.caddyfile)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// adapt turns a Caddyfile into Caddy's JSON config.
func adapt(caddyfile string) ([]byte, error) {
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	return cfg, err
}
