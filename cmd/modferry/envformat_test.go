package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// hostileValues are values a shell, a .env reader or PowerShell could
// take as code or cut short if they were quoted wrongly.
var hostileValues = []string{
	"plain",
	"*",
	"-trimpath -mod=mod",
	`it's`,
	`a"b`,
	`$(touch pwned) ${HOME} $HOME`,
	"`id`",
	`back\slash\`,
	"semi;colon & amp | pipe > gt",
	"‘curly’ ‚quotes‛",
	"$env:PATH; Remove-Item x",
	"",
}

func envOf(values ...string) *clientEnv {
	env := &clientEnv{Server: "http://x", Warnings: []string{}}
	for i, v := range values {
		env.Variables = append(env.Variables, envVar{Name: "V" + string(rune('A'+i)), Value: v, Comment: "line one\nexport EVIL=1"})
	}
	return env
}

// TestFormatShHostile runs the sh output in a real shell and reads every
// value back unchanged.
func TestFormatShHostile(t *testing.T) {
	vals := append(hostileValues, "multi\nline")
	out, err := formatSh(envOf(vals...))
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString(out)
	for i := range vals {
		script.WriteString(`printf '%s\0' "$V` + string(rune('A'+i)) + `"` + "\n")
	}
	script.WriteString(`printf '%s\0' "${EVIL-unset}"` + "\n")
	got, err := exec.Command("sh", "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	fields := strings.Split(strings.TrimSuffix(string(got), "\x00"), "\x00")
	if len(fields) != len(vals)+1 {
		t.Fatalf("sh printed %d values, want %d:\n%q", len(fields), len(vals)+1, got)
	}
	for i, v := range vals {
		if fields[i] != v {
			t.Errorf("sh read back %q, want %q", fields[i], v)
		}
	}
	if fields[len(vals)] != "unset" {
		t.Errorf("a comment line break injected a command")
	}
}

// TestFormatGitHubHostile parses the $GITHUB_ENV lines as the runner
// does: NAME=value, or NAME<<DELIM, lines, DELIM.
func TestFormatGitHubHostile(t *testing.T) {
	vals := append(hostileValues, "multi\nline\nEOF", "MODFERRY_EOF_x\nx")
	out, err := formatGitHub(envOf(vals...))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if name, delim, ok := strings.Cut(l, "<<"); ok && !strings.Contains(name, "=") {
			var body []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				body = append(body, lines[i])
			}
			if i == len(lines) {
				t.Fatalf("delimiter %q never closes:\n%s", delim, out)
			}
			got[name] = strings.Join(body, "\n")
			continue
		}
		name, value, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("line %q is neither NAME=value nor NAME<<DELIM", l)
		}
		got[name] = value
	}
	for i, v := range vals {
		if name := "V" + string(rune('A'+i)); got[name] != v {
			t.Errorf("%s = %q, want %q", name, got[name], v)
		}
	}
	if len(got) != len(vals) {
		t.Errorf("%d variables, want %d:\n%s", len(got), len(vals), out)
	}
}

// TestFormatDotenvHostile: values go in single quotes, taken literally
// by .env readers; what single quotes cannot hold is refused.
func TestFormatDotenvHostile(t *testing.T) {
	var ok []string
	for _, v := range hostileValues {
		if !strings.Contains(v, "'") {
			ok = append(ok, v)
		}
	}
	out, err := formatDotenv(envOf(ok...))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range ok {
		want := "V" + string(rune('A'+i)) + "='" + v + "'\n"
		if !strings.Contains(out, want) {
			t.Errorf("dotenv output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\nexport EVIL") {
		t.Errorf("a comment line break reached the output as a line:\n%s", out)
	}
	for _, bad := range []string{"it's", "two\nlines"} {
		if _, err := formatDotenv(envOf(bad)); err == nil {
			t.Errorf("dotenv accepted %q", bad)
		}
	}
}

// TestFormatPowerShellHostile reads each verbatim string back by
// PowerShell's rule: between single quotes, a doubled quote character is
// one quote, and a single one ends the string.
func TestFormatPowerShellHostile(t *testing.T) {
	out, err := formatPowerShell(envOf(hostileValues...))
	if err != nil {
		t.Fatal(err)
	}
	isQuote := func(r rune) bool { return strings.ContainsRune("'\u2018\u2019\u201a\u201b", r) }
	i := 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		prefix := "$env:V" + string(rune('A'+i)) + " = "
		if !strings.HasPrefix(l, prefix) {
			t.Fatalf("line %q, want it to start %q", l, prefix)
		}
		rs := []rune(strings.TrimPrefix(l, prefix))
		if len(rs) < 2 || rs[0] != '\'' {
			t.Fatalf("line %q: value not single-quoted", l)
		}
		var val []rune
		j := 1
		for ; j < len(rs); j++ {
			if isQuote(rs[j]) {
				if j+1 < len(rs) && isQuote(rs[j+1]) {
					val = append(val, rs[j])
					j++
					continue
				}
				break
			}
			val = append(val, rs[j])
		}
		if j != len(rs)-1 {
			t.Errorf("line %q: the string ends before the line does", l)
		}
		if string(val) != hostileValues[i] {
			t.Errorf("PowerShell reads %q, want %q", string(val), hostileValues[i])
		}
		i++
	}
	if i != len(hostileValues) {
		t.Errorf("%d assignments, want %d", i, len(hostileValues))
	}
}

func TestFormatJSON(t *testing.T) {
	out, err := formatJSON(envOf(hostileValues...))
	if err != nil {
		t.Fatal(err)
	}
	var got clientEnv
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for i, v := range hostileValues {
		if got.Variables[i].Value != v {
			t.Errorf("JSON value %q, want %q", got.Variables[i].Value, v)
		}
	}
}

func TestAddModMod(t *testing.T) {
	for _, tc := range []struct{ in, want, dropped string }{
		{"", "-mod=mod", ""},
		{"-trimpath", "-trimpath -mod=mod", ""},
		{"-mod=mod -trimpath", "-trimpath -mod=mod", ""},
		{"-mod=vendor  -tags=a,b", "-tags=a,b -mod=mod", "-mod=vendor"},
		{"--mod=readonly -modcacherw", "-modcacherw -mod=mod", "--mod=readonly"},
	} {
		got, dropped := addModMod(tc.in)
		if got != tc.want || dropped != tc.dropped {
			t.Errorf("addModMod(%q) = %q, %q; want %q, %q", tc.in, got, dropped, tc.want, tc.dropped)
		}
	}
}

func TestSumDBName(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "sum.golang.org",
		"off":                        "sum.golang.org",
		"sum.golang.org":             "sum.golang.org",
		"sum.example+abcd":           "sum.example",
		"sum.example+abcd https://x": "sum.example",
	} {
		if got := sumDBName(in); got != want {
			t.Errorf("sumDBName(%q) = %q, want %q", in, got, want)
		}
	}
}
