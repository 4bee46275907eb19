package main

import (
	"slices"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for in, want := range map[string][]string{
		"gpg --detach-sign --armor -u KEYID":                 {"gpg", "--detach-sign", "--armor", "-u", "KEYID"},
		"  gpg   -u 'Release Key <r@x>'  ":                   {"gpg", "-u", "Release Key <r@x>"},
		`sign "a \"quoted\" word" b\ c`:                      {"sign", `a "quoted" word`, "b c"},
		`x ''`:                                               {"x", ""},
		`x "$HOME" '$HOME'`:                                  {"x", "$HOME", "$HOME"},
		"/usr/bin/pkcs11-sign --slot=0\t--pin-file /run/pin": {"/usr/bin/pkcs11-sign", "--slot=0", "--pin-file", "/run/pin"},
	} {
		got, err := splitCommand(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", `gpg "open`, "gpg 'open", `gpg \`} {
		if got, err := splitCommand(bad); err == nil {
			t.Errorf("splitCommand(%q) = %q, want an error", bad, got)
		}
	}
}
