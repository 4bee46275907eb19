package main

import (
	"errors"
	"fmt"

	"github.com/modferry/modferry/internal/tamper"
	"github.com/spf13/cobra"
)

// Exit codes, the same for every command (documented in the root --help
// and the README).
const (
	exitOK       = 0 // success
	exitFailure  = 1 // any other failure: I/O, network, a missing file
	exitUsage    = 2 // bad flags or arguments
	exitSecurity = 3 // evidence of tampering: a bad signature, a hash mismatch, a failed checksum-database proof
)

const exitCodesHelp = `Exit codes:
  0  success
  1  failure (I/O, network, not found, ...)
  2  usage error (unknown command, bad flags or arguments)
  3  security failure: a bad, missing or untrusted signature (or fewer
     trusted signers than --require-signatures asks), a hash or
     size mismatch, unknown or unsafe bundle members, a checksum-database
     proof that fails, a module version the store holds with another
     hash, a tampered audit log`

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case isSecurityFailure(err):
		return exitSecurity
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitFailure
}

// isSecurityFailure reports whether err is evidence of tampering rather
// than an ordinary failure (package tamper keeps the list).
func isSecurityFailure(err error) bool { return tamper.Evidence(err) }

// usageError is a mistake in how a command was called: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// asUsage marks a non-nil err as a usage error.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// markUsageErrors makes the argument, flag and required-flag errors of cmd
// and every command under it usage errors, and gives commands that only
// group others an error for an unknown subcommand.
func markUsageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	if cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", s[0])
			}
			return usagef("%s (see '%s --help')", msg, c.CommandPath())
		}
	}
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error { return asUsage(args(c, a)) }
	}
	for _, sub := range cmd.Commands() {
		markUsageErrors(sub)
	}
}

// checkFlags runs cobra's required-flag and flag-group checks early, as
// usage errors (cobra's own run of them afterwards then passes).
func checkFlags(cmd *cobra.Command, _ []string) error {
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return asUsage(err)
	}
	return asUsage(cmd.ValidateFlagGroups())
}
