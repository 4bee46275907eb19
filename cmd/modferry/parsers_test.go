package main

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

// Table tests for the small parsers behind the CLI's flags and arguments,
// good input and bad. (parseSize and splitCommand: signcmd_test.go; the
// env output formats: envformat_test.go.)

func TestParseLongDuration(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"180d", 180 * day},
		{"0d", 0},
		{"1d12h", day + 12*time.Hour},
		{"7d30m", 7*day + 30*time.Minute},
		{"24h", 24 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"100000d", 100000 * day},
	} {
		if got, err := parseLongDuration(tc.in); err != nil || got != tc.want {
			t.Errorf("parseLongDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "1.5d", "100001d", "7dx", " 7d", "7", "seven days", "7d7d"} {
		if got, err := parseLongDuration(bad); err == nil {
			t.Errorf("parseLongDuration(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"24h", now.Add(-24 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"1d6h", now.Add(-30 * time.Hour)},
		{"2025-01-31", time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)},
		{"2025-01-31T10:00:00Z", time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC)},
		{"2025-01-31T10:00:00+02:00", time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC)},
	} {
		got, err := parseWhen("--since", tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", "2025-13-01", "31/01/2025", "2025-01-31 10:00", "-", "7 days"} {
		got, err := parseWhen("--since", bad, now)
		if err == nil {
			t.Errorf("parseWhen(%q) = %v, want an error", bad, got)
			continue
		}
		if exitCode(err) != exitUsage {
			t.Errorf("parseWhen(%q): %v is not a usage error", bad, err)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}},
		{[]string{"10.1.2.3/8"}, []string{"10.0.0.0/8"}}, // masked
		{[]string{"192.0.2.1"}, []string{"192.0.2.1/32"}},
		{[]string{"::ffff:192.0.2.1"}, []string{"192.0.2.1/32"}}, // unmapped
		{[]string{"2001:db8::1"}, []string{"2001:db8::1/128"}},
		{[]string{"2001:db8:1::/48", "127.0.0.1"}, []string{"2001:db8:1::/48", "127.0.0.1/32"}},
	} {
		got, err := parsePrefixes(tc.in)
		if err != nil {
			t.Errorf("parsePrefixes(%q): %v", tc.in, err)
			continue
		}
		var want []netip.Prefix
		for _, s := range tc.want {
			want = append(want, netip.MustParsePrefix(s))
		}
		if !slices.Equal(got, want) {
			t.Errorf("parsePrefixes(%q) = %v, want %v", tc.in, got, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "proxy.example", "10.0.0.1:80", "10.0.0", "2001:db8::/129"} {
		got, err := parsePrefixes([]string{"127.0.0.1", bad})
		if err == nil {
			t.Errorf("parsePrefixes(%q) = %v, want an error", bad, got)
			continue
		}
		if exitCode(err) != exitUsage {
			t.Errorf("parsePrefixes(%q): %v is not a usage error", bad, err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   int64
		string string // String of the value
	}{
		{"0", 0, "0"},
		{"1500", 1500, "1500"},
		{"100B", 100, "100"},
		{"64KiB", 64 << 10, "64KiB"},
		{"64K", 64 << 10, "64KiB"},
		{"64KB", 64_000, "64000"},
		{"500MB", 500_000_000, "500000000"},
		{"3M", 3 << 20, "3MiB"},
		{"8GiB", 8 << 30, "8GiB"},
		{"1GB", 1_000_000_000, "1000000000"},
		{"2T", 2 << 40, "2048GiB"},
		{"1TB", 1_000_000_000_000, "976562500KiB"},
		{"2048K", 2048 << 10, "2MiB"},
	} {
		var b byteSize
		if err := b.Set(tc.in); err != nil || int64(b) != tc.want {
			t.Errorf("Set(%q) = %d, %v; want %d", tc.in, int64(b), err, tc.want)
			continue
		}
		if s := b.String(); s != tc.string {
			t.Errorf("Set(%q).String() = %q, want %q", tc.in, s, tc.string)
		}
		var back byteSize
		if err := back.Set(b.String()); err != nil || back != b {
			t.Errorf("Set(%q) does not read back %q: %d, %v", b.String(), tc.in, int64(back), err)
		}
	}
	for _, bad := range []string{"", "-1", "1.5G", "5X", "GiB", "1e3", "5Kb", "5gb", "9000000T", "1 000"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, int64(b))
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"http://modferry.internal:3000", "http://modferry.internal:3000"},
		{"-trimpath,-mod=mod", "-trimpath,-mod=mod"},
		{"", "''"},
		{"a b", "'a b'"},
		{"*", "'*'"},
		{"$HOME", "'$HOME'"},
		{"it's", `'it'\''s'`},
		{"''", `''\'''\'''`},
		{"a\nb", "'a\nb'"},
		{"~user", "'~user'"},
	} {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseModuleVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want module.Version
	}{
		{"corp.example/lib@v1.2.0", module.Version{Path: "corp.example/lib", Version: "v1.2.0"}},
		{"corp.example/lib/v2@v2.0.0-rc.1", module.Version{Path: "corp.example/lib/v2", Version: "v2.0.0-rc.1"}},
		{"corp.example/Lib@v0.0.0-20250101000000-0123456789ab", module.Version{Path: "corp.example/Lib", Version: "v0.0.0-20250101000000-0123456789ab"}},
	} {
		if got, err := parseModuleVersion(tc.in); err != nil || got != tc.want {
			t.Errorf("parseModuleVersion(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "corp.example/lib", "@v1.0.0", "corp.example/lib@", "corp.example/lib@v1.2",
		"corp.example/lib@1.2.0", "corp.example/lib/v2@v1.0.0", "-corp.example/lib@v1.0.0",
		"corp.example/lib/@v1.0.0", "corp.example/a b@v1.0.0", "corp.example/lib@latest",
	} {
		got, err := parseModuleVersion(bad)
		if err == nil {
			t.Errorf("parseModuleVersion(%q) = %v, want an error", bad, got)
			continue
		}
		if exitCode(err) != exitUsage {
			t.Errorf("parseModuleVersion(%q): %v is not a usage error", bad, err)
		}
	}
}
