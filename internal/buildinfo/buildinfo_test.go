package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.1",
		Main:      debug.Module{Path: "github.com/modferry/modferry", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := fromBuildInfo(bi, Info{Version: "(devel)", Platform: "linux/amd64"})
	want := Info{Path: "github.com/modferry/modferry", Version: "v1.2.3", Revision: "0123abcd",
		Time: "2026-11-30T10:00:00Z", Modified: true, GoVersion: "go1.26.1", Platform: "linux/amd64"}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := fromBuildInfo(&debug.BuildInfo{}, Info{Version: "(devel)"}); got.Version != "(devel)" {
		t.Errorf("empty build info: version %q, want (devel)", got.Version)
	}
}
