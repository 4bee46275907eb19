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

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"4G": 4 << 30, "4GiB": 4 << 30, "4.7GB": 4_700_000_000, "700MB": 700_000_000,
		"650M": 650 << 20, "4096": 4096, "1.5K": 1536, "25 MB": 25_000_000, "100B": 100,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "G", "-4G", "0", "4X", "four", "1e30T"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}
