package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// envFormats write a client environment for one consumer each.
var envFormats = map[string]func(*clientEnv) (string, error){
	"sh":         formatSh,
	"json":       formatJSON,
	"github":     formatGitHub,
	"dotenv":     formatDotenv,
	"powershell": formatPowerShell,
}

// formatSh writes POSIX shell: export NAME='value'.
func formatSh(env *clientEnv) (string, error) {
	var b strings.Builder
	for _, v := range env.Variables {
		fmt.Fprintf(&b, "# %s\nexport %s=%s\n", oneLine(v.Comment), v.Name, shellQuote(v.Value))
	}
	return b.String(), nil
}

func formatJSON(env *clientEnv) (string, error) {
	var b bytes.Buffer
	err := printJSON(&b, env)
	return b.String(), err
}

// formatGitHub writes lines for $GITHUB_ENV: NAME=value, or for a value
// with a line break NAME<<DELIMITER, the value, DELIMITER.
func formatGitHub(env *clientEnv) (string, error) {
	var b strings.Builder
	for _, v := range env.Variables {
		if !strings.ContainsAny(v.Value, "\r\n") {
			fmt.Fprintf(&b, "%s=%s\n", v.Name, v.Value)
			continue
		}
		delim := githubDelimiter(v.Value)
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", v.Name, delim, v.Value, delim)
	}
	return b.String(), nil
}

// githubDelimiter returns a heredoc delimiter that is no line of value.
func githubDelimiter(value string) string {
	for {
		var r [12]byte
		rand.Read(r[:])
		d := "MODFERRY_EOF_" + hex.EncodeToString(r[:])
		if !strings.Contains(value, d) {
			return d
		}
	}
}

// formatDotenv writes NAME='value' lines. Inside single quotes dotenv
// readers (docker compose, the dotenv libraries) take the value literally,
// with no $ interpolation; a value with a single quote or a line break has
// no portable spelling and is refused.
func formatDotenv(env *clientEnv) (string, error) {
	var b strings.Builder
	for _, v := range env.Variables {
		if strings.ContainsAny(v.Value, "'\r\n") {
			return "", fmt.Errorf("%s=%q cannot be written as a .env line (single quote or line break)", v.Name, v.Value)
		}
		fmt.Fprintf(&b, "# %s\n%s='%s'\n", oneLine(v.Comment), v.Name, v.Value)
	}
	return b.String(), nil
}

// formatPowerShell writes $env:NAME = 'value' lines.
func formatPowerShell(env *clientEnv) (string, error) {
	var b strings.Builder
	for _, v := range env.Variables {
		fmt.Fprintf(&b, "# %s\n$env:%s = %s\n", oneLine(v.Comment), v.Name, powerShellQuote(v.Value))
	}
	return b.String(), nil
}

// powerShellQuote quotes s as a PowerShell verbatim string: single quotes,
// in which only a quote character is special, written twice. PowerShell
// takes the typographic single quotes as quotes too.
func powerShellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// oneLine keeps a comment on its line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
