package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/safefile"
	"github.com/modferry/modferry/internal/sign"
)

type keygenOptions struct {
	out          string
	force        bool
	noPassphrase bool
}

func newKeygenCmd() *cobra.Command {
	var o keygenOptions
	cmd := &cobra.Command{
		Use:   "keygen -o KEY",
		Short: "Make a signing key pair (minisign format)",
		Long: `Write a new Ed25519 signing key in minisign format: KEY (secret, mode 0600)
and KEY.pub (public). export signs bundles with KEY; verify and import
check them with KEY.pub — and so does the stock tool:
minisign -Vm MANIFEST.json -p KEY.pub.

The secret key is encrypted with a passphrase taken from
$MODFERRY_KEY_PASSPHRASE, or asked for on the terminal. --no-passphrase writes it unencrypted (as minisign -W does), for
keys kept in a secrets manager or for tests.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.out == "" {
				return usagef("give the key file name with -o KEY")
			}
			for _, f := range []string{o.out, o.out + ".pub"} {
				if _, err := os.Stat(f); err == nil && !o.force {
					return fmt.Errorf("%s exists; refusing to overwrite a key (use --force)", f)
				}
			}
			var pass []byte
			if !o.noPassphrase {
				p, err := newPassphrase()
				if err != nil {
					return err
				}
				pass = p
			}
			priv, pub, err := sign.GenerateKey(pass)
			if err != nil {
				return err
			}
			if err := safefile.WriteFile(o.out, priv, 0o600); err != nil {
				return err
			}
			if err := safefile.WriteFile(o.out+".pub", pub, 0o644); err != nil {
				return err
			}
			k, err := sign.LoadPublicKeys(o.out + ".pub")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote secret key %s and public key %s.pub (key ID %s)\n", o.out, o.out, k[0].ID())
			return nil
		},
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "secret key file; the public key goes to FILE.pub")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite existing key files")
	cmd.Flags().BoolVar(&o.noPassphrase, "no-passphrase", false, "write the secret key unencrypted")
	return cmd
}
