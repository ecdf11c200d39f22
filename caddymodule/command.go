package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "mcp",
		Usage: "clients|grants|revoke|token|passwd|drop-document [--config <path>] [--adapter <name>]",
		Short: "Lists and revokes mcp_gateway clients and grants, and mints tokens",
		Long: strings.ReplaceAll(`
Works on the storage of the configured mcp_gateway (the config's "storage"
global option, or Caddy's default), so it needs no running server and sees
what every instance sharing that storage sees.

  caddy mcp clients                       registered, pre-registered and metadata
                                          document (URL) clients, with their host
  caddy mcp drop-document <client_id_url> drop a cached client metadata document,
                                          so it is fetched again on its next use
  caddy mcp grants [--user U] [--client C] grants (refresh-token families)
  caddy mcp revoke client <client_id>     delete a client, revoke its grants and
                                          its own (client_credentials) tokens
  caddy mcp revoke user <user>            sign a user out everywhere: revoke
                                          their grants, end their sign-in
                                          sessions and forget their approvals
  caddy mcp revoke grant <grant_id>       revoke one refresh-token family
  caddy mcp token <client_id> --resource https://host/mcp [--scope S]...
                                          mint an access token for a
                                          pre-registered confidential client
                                          (CI, scripts)
  caddy mcp passwd <user>                 set a new generated password for the
                                          first user (printed once; its
                                          grants are revoked)

Generated ids may start with "-": put -- before them, as in
caddy mcp revoke client -- -Xy3...

Revoked grants stop refreshing at once; their access tokens stop working
within the gateway's revocation_check_interval (default 30s).`, "caddy mcp", commandName()+" mcp"),
		CobraFunc: configureMCPCommand,
	})
}

// configureMCPCommand adds the `caddy mcp` subcommands and flags to cmd.
func configureMCPCommand(cmd *cobra.Command) {
	cmd.PersistentFlags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
	cmd.PersistentFlags().StringP("adapter", "a", "", "Name of config adapter to apply")
	cmd.PersistentFlags().Bool("json", false, "Print JSON instead of a table")

	grants := &cobra.Command{
		Use:   "grants",
		Short: "List grants",
		Args:  cobra.NoArgs,
		RunE: withAuthServer(func(ctx context.Context, cmd *cobra.Command, srv *authserver.Server, _ []string) error {
			all, err := srv.Grants(ctx)
			if err != nil {
				return err
			}
			user, _ := cmd.Flags().GetString("user")
			client, _ := cmd.Flags().GetString("client")
			var out []authserver.GrantInfo
			for _, g := range all {
				if (user == "" || g.Subject == user) && (client == "" || g.ClientID == client) {
					out = append(out, g)
				}
			}
			return printList(cmd, out, "GRANT\tUSER\tCLIENT\tRESOURCE\tSCOPES\tEXPIRES\tREVOKED", func(g authserver.GrantInfo) []string {
				return []string{g.ID, g.Subject, g.ClientID, g.Resource, strings.Join(g.Scopes, " "), g.ExpiresAt.Format(time.RFC3339), fmt.Sprint(g.Revoked)}
			})
		}),
	}
	grants.Flags().String("user", "", "Only this user's grants")
	grants.Flags().String("client", "", "Only this client's grants")

	token := &cobra.Command{
		Use:   "token <client_id>",
		Short: "Mint an access token for a confidential client",
		Args:  cobra.ExactArgs(1),
		RunE: withAuthServer(func(ctx context.Context, cmd *cobra.Command, srv *authserver.Server, args []string) error {
			resource, _ := cmd.Flags().GetString("resource")
			scopes, _ := cmd.Flags().GetStringSlice("scope")
			tok, ttl, err := srv.MintToken(ctx, args[0], resource, scopes)
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds())})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		}),
	}
	token.Flags().String("resource", "", "The MCP endpoint URL the token is for, e.g. https://mcp.example.com/mcp (required)")
	token.Flags().StringSlice("scope", nil, "Scopes to grant (default: the client's default scopes)")
	_ = token.MarkFlagRequired("resource")

	revoke := &cobra.Command{Use: "revoke", Short: "Revoke a client, a user's grants or one grant"}
	revoke.AddCommand(
		revokeCommand("client", "Delete a registered client, or forget users' approvals of a client id URL, and revoke its grants", func(ctx context.Context, srv *authserver.Server, id string) (int, error) {
			n, err := srv.RevokeClient(ctx, id)
			if err == nil && n == 0 && strings.HasPrefix(id, "https://") {
				// A client id URL is never "not found" (it comes back when
				// used), so a typo (a capital, a port) would read as
				// success while the real client keeps its approvals.
				return 0, fmt.Errorf("client %q has no live grants, so none was revoked (%s mcp grants lists client ids as they must be written, exactly); if the id is right, its approvals are forgotten and its earlier codes refused all the same", terminalSafe(id), commandName())
			}
			return n, err
		}),
		revokeCommand("user", "Sign a user out everywhere: revoke their grants, end their sign-in sessions", func(ctx context.Context, srv *authserver.Server, id string) (int, error) {
			n, err := srv.RevokeUser(ctx, id)
			if err == nil && n == 0 {
				// A typo must not read as success: the operator would
				// believe a departed user's access ended.
				return 0, fmt.Errorf("user %q has no live grants, so none was revoked (%s mcp grants lists them); if the name is right, their sign-in sessions are ended all the same", terminalSafe(id), commandName())
			}
			return n, err
		}),
		revokeCommand("grant", "Revoke one grant (refresh-token family)", func(ctx context.Context, srv *authserver.Server, id string) (int, error) {
			return 1, srv.RevokeGrant(ctx, id)
		}),
	)

	cmd.AddCommand(&cobra.Command{
		Use:   "clients",
		Short: "List clients",
		Args:  cobra.NoArgs,
		RunE: withAuthServer(func(ctx context.Context, cmd *cobra.Command, srv *authserver.Server, _ []string) error {
			clients, err := srv.Clients(ctx)
			if err != nil {
				return err
			}
			return printList(cmd, clients, "CLIENT\tHOST\tNAME\tAUTH\tREDIRECT URIS\tREGISTERED\tLAST USED", func(c authserver.ClientInfo) []string {
				registered := "static"
				switch {
				case c.Host != "":
					registered = "document, fetched " + c.IssuedAt.Format(time.RFC3339)
				case !c.Static:
					registered = c.IssuedAt.Format(time.RFC3339)
				}
				lastUsed := ""
				if !c.LastUsed.IsZero() {
					lastUsed = c.LastUsed.Format(time.RFC3339)
				}
				return []string{c.ID, c.Host, c.Name, c.AuthMethod, strings.Join(c.RedirectURIs, " "), registered, lastUsed}
			})
		}),
	}, &cobra.Command{
		Use:   "drop-document <client_id_url>",
		Short: "Drop a cached client metadata document, so it is fetched again on its next use",
		Args:  cobra.ExactArgs(1),
		RunE: withAuthServer(func(ctx context.Context, cmd *cobra.Command, srv *authserver.Server, args []string) error {
			dropped, err := srv.DropDocument(ctx, args[0])
			if err != nil {
				return err
			}
			if !dropped {
				return fmt.Errorf("no cached document for %s; `mcp clients` lists the cached ones", terminalSafe(args[0]))
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "dropped the cached document of %s; it is fetched again on its next use\n", terminalSafe(args[0]))
			return err
		}),
	}, grants, revoke, token, passwdCommand())
}

// revokeCommand is `caddy mcp revoke <kind> <id>`.
func revokeCommand(kind, short string, revoke func(context.Context, *authserver.Server, string) (int, error)) *cobra.Command {
	return &cobra.Command{
		Use:   kind + " <id>",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: withAuthServer(func(ctx context.Context, cmd *cobra.Command, srv *authserver.Server, args []string) error {
			n, err := revoke(ctx, srv, args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "revoked %s %s (%d grant(s))\n", kind, terminalSafe(args[0]), n)
			return err
		}),
	}
}

// printList prints items as JSON or as a table with the given header and
// a row of cells per item, escaped for the terminal either way (see
// terminalSafe): clients choose much of what is listed.
func printList[T any](cmd *cobra.Command, items []T, header string, row func(T) []string) error {
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		if items == nil {
			items = []T{}
		}
		js, err := json.MarshalIndent(items, "", "  ")
		if err != nil {
			return err
		}
		_, err = cmd.OutOrStdout().Write(append(terminalSafeJSON(js), '\n'))
		return err
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		cells := row(it)
		for i, c := range cells {
			cells[i] = terminalSafe(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// withAuthServer opens the configured gateway's authorization server on
// its storage for the duration of one command.
func withAuthServer(run func(context.Context, *cobra.Command, *authserver.Server, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfgJSON, err := loadOperatorConfig(cmd)
		if err != nil {
			return err
		}
		srv, cleanup, err := openAuthServer(cfgJSON)
		if err != nil {
			return err
		}
		defer cleanup()
		return run(cmd.Context(), cmd, srv, args)
	}
}

// openAuthServer opens an operator view of the authorization server of the
// first mcp_gateway in a JSON config, on that config's storage. It serves no
// logins, so it needs none of the gateway's users (whose hashes may come
// from the server's environment).
func openAuthServer(cfgJSON []byte) (*authserver.Server, func(), error) {
	g, storage, cleanup, err := loadGateway(cfgJSON)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := g.authserverConfig(caddy.NewReplacer(), nil)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	srv, err := authserver.NewOperatorView(cfg, storage, nil)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return srv, cleanup, nil
}

// loadGateway reads the first mcp_gateway of a JSON config and opens that
// config's storage, until cleanup.
func loadGateway(cfgJSON []byte) (g *Gateway, storage certmagic.Storage, cleanup func(), err error) {
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, nil, nil, fmt.Errorf("reading config: %v", err)
	}
	raw := findHandler(cfgJSON)
	if raw == nil {
		return nil, nil, nil, errors.New("the configuration has no mcp_gateway handler")
	}
	g = new(Gateway)
	if err := json.Unmarshal(raw, g); err != nil {
		return nil, nil, nil, fmt.Errorf("reading the mcp_gateway config: %v", err)
	}
	for _, res := range g.Resources {
		res.setDefaults()
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	storage = caddy.DefaultStorage
	if cfg.StorageRaw != nil {
		mod, err := ctx.LoadModule(&cfg, "StorageRaw")
		if err != nil {
			cancel()
			return nil, nil, nil, fmt.Errorf("loading storage: %v", err)
		}
		if storage, err = mod.(caddy.StorageConverter).CertMagicStorage(); err != nil {
			cancel()
			return nil, nil, nil, fmt.Errorf("opening storage: %v", err)
		}
	}
	// A command pointed at the wrong folder (another working directory
	// for ./data, MCPGATE_DATA unset) would list nothing and create the
	// folder as it went: say so instead, and touch nothing.
	if fs, ok := storage.(*certmagic.FileStorage); ok {
		if _, err := os.Stat(fs.Path); errors.Is(err, os.ErrNotExist) {
			cancel()
			abs, _ := filepath.Abs(fs.Path)
			return nil, nil, nil, fmt.Errorf("the data folder %s does not exist: run the command with the server's configuration and environment (the same working directory for relative paths, the same MCPGATE_DATA for the default Caddyfile), or start the server once", abs)
		}
	}
	return g, storage, func() { cancel() }, nil
}

// findHandler returns the first JSON object in a config whose "handler" is
// mcp_gateway, wherever routes nest it (object keys walked in sorted order,
// so "first" is stable).
func findHandler(cfgJSON []byte) json.RawMessage {
	var walk func(json.RawMessage) json.RawMessage
	walk = func(raw json.RawMessage) json.RawMessage {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) == nil {
			if h, ok := obj["handler"]; ok && string(h) == `"mcp_gateway"` {
				return raw
			}
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if found := walk(obj[k]); found != nil {
					return found
				}
			}
			return nil
		}
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) == nil {
			for _, v := range arr {
				if found := walk(v); found != nil {
					return found
				}
			}
		}
		return nil
	}
	return walk(cfgJSON)
}

// loadOperatorConfig loads the configuration an operator command names
// with --config and --adapter.
func loadOperatorConfig(cmd *cobra.Command) ([]byte, error) {
	configFile, _ := cmd.Flags().GetString("config")
	adapter, _ := cmd.Flags().GetString("adapter")
	cfgJSON, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err == nil && len(cfgJSON) == 0 {
		if configFile == "" {
			wd, _ := os.Getwd()
			return nil, fmt.Errorf("no Caddyfile in %s: run the command in the server's folder, or name its configuration with --config <path>", wd)
		}
		return nil, fmt.Errorf("the configuration %s is empty", configFile)
	}
	return cfgJSON, err
}
