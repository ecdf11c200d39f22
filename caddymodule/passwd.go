package caddymodule

import (
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/spf13/cobra"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

// passwdCommand is `mcp passwd <user>`: the recovery for a lost first-user
// password. It generates a new one, prints it once, keeps only its hash
// and revokes the user's grants at once (the running server also ends
// them when it loads the new hash at its next start or reload, as any
// password change does).
func passwdCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "passwd <user>",
		Short: "Set a new generated password for the first user (first_user)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfgJSON, err := loadOperatorConfig(cmd)
			if err != nil {
				return err
			}
			g, storage, cleanup, err := loadGateway(cfgJSON)
			if err != nil {
				return err
			}
			defer cleanup()
			fu := g.Auth.FirstUser
			if fu == nil {
				return errors.New("the configuration has no first_user: users of a `users` block get a new bcrypt hash in the Caddyfile (caddy hash-password)")
			}
			repl := caddy.NewReplacer()
			name := repl.ReplaceAll(fu.Name, "")
			if args[0] != name {
				return fmt.Errorf("%q is not the first user of this configuration (first_user %s): users of a `users` block get a new bcrypt hash in the Caddyfile", terminalSafe(args[0]), terminalSafe(name))
			}
			if repl.ReplaceAll(fu.Password, "") != "" {
				return errors.New("the first user's password comes from the configuration (first_user's second argument, MCPGATE_PASSWORD in the default Caddyfile): change it there, or unset it and run this again")
			}
			ctx := cmd.Context()
			password, err := resetFirstUserPassword(ctx, storage, name)
			if err != nil {
				return err
			}
			cfg, err := g.authserverConfig(repl, nil)
			if err != nil {
				return err
			}
			srv, err := authserver.NewOperatorView(cfg, storage, nil)
			if err != nil {
				return err
			}
			n, err := srv.RevokeUser(ctx, name)
			if err != nil {
				return fmt.Errorf("the password is changed, but revoking the grants of %s failed (they end when the server reloads): %v", name, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "New password for %s:\n\n    %s\n\nIt is shown only this once; only its hash is kept. %d grant(s) of %s revoked.\nA running server takes the new password when it restarts or reloads (%s reload).\n",
				terminalSafe(name), password, n, terminalSafe(name), commandName())
			return err
		},
	}
}
