package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/modferry/modferry/internal/api"
	"github.com/modferry/modferry/internal/audit"
	"github.com/modferry/modferry/internal/modules"
	"github.com/modferry/modferry/internal/publish"
)

type deleteOptions struct {
	store    string
	storeSet bool
	remote   remoteOptions
	reason   string
	json     bool
}

func newDeleteCmd() *cobra.Command {
	var o deleteOptions
	cmd := &cobra.Command{
		Use:   "delete --reason TEXT MODULE@VERSION",
		Short: "Delete a module version from a store or server",
		Long: `Delete a module version: it leaves the version list and @latest at once,
and the server answers 410 Gone for it from then on, giving the reason.
The reason is required and recorded, with who deleted it, in the version's
deletion record and in the audit log. A deleted version can never be
published again.

Work on a local store (--store) or on a server (--server, needing a token
with the delete scope). A server running on the store sees a local deletion
within a second. A delete takes the store's import lock, as import and
prune do; if an import holds it for more than 10 s, delete gives up
without changing anything ("an import is running on this store ... retry
once it has finished"; a server answers 503 with Retry-After).`,
		Example: `  modferry delete --store /srv/modferry --reason "CVE-2025-1234" corp.example/lib@v1.4.0`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.storeSet = cmd.Flags().Changed("store")
			return runDelete(cmd.Context(), cmd.OutOrStdout(), o, args[0])
		},
	}
	addStoreFlag(cmd, &o.store)
	addRemoteFlags(cmd, &o.remote, "delete")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the version is deleted (required; recorded)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

func runDelete(ctx context.Context, w io.Writer, o deleteOptions, arg string) error {
	v, err := parseModuleVersion(arg)
	if err != nil {
		return err
	}
	if strings.TrimSpace(o.reason) == "" {
		return usagef("--reason is required: say why the version is deleted")
	}
	if o.remote.server != "" && o.storeSet {
		return usagef("give --store or --server, not both")
	}
	var res api.Deleted
	if o.remote.server != "" {
		c, err := o.remote.client()
		if err != nil {
			return err
		}
		if res, err = c.Delete(ctx, v, o.reason); err != nil {
			return fmt.Errorf("delete %s: %w", v, err)
		}
	} else {
		st, err := openExistingStore(ctx, o.store)
		if err != nil {
			return err
		}
		actor := localActor()
		c, err := beginChange(ctx, st, audit.Entry{Actor: actor, Action: audit.ActionDelete, Target: v.String(),
			Detail: map[string]string{"reason": o.reason}})
		if err != nil {
			return err
		}
		rec := modules.GoneRecord{Time: time.Now().UTC(), Actor: actor, Reason: o.reason}
		derr := publish.Delete(ctx, &modules.Repo{Store: st}, v, rec)
		result, d := audit.ResultOK, map[string]string(nil)
		if derr != nil {
			result, d = audit.ResultError, map[string]string{"error": derr.Error()}
		}
		if err := c.finish(ctx, result, d); err != nil {
			if derr != nil {
				return fmt.Errorf("%w (and %v)", derr, err)
			}
			return err
		}
		if derr != nil {
			return derr
		}
		res = api.Deleted{Path: v.Path, Version: v.Version, Time: rec.Time, Actor: actor, Reason: o.reason}
	}
	if o.json {
		return printJSON(w, res)
	}
	fmt.Fprintf(w, "deleted %s: %s\n", v, o.reason)
	return nil
}
