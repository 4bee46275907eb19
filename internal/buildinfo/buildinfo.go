// Package buildinfo reports what a modferry binary was built from: the
// module version, the VCS revision and commit time, and the Go version,
// from runtime/debug.ReadBuildInfo. 'modferry version', the server's
// modferry_build_info metric and /healthz?verbose all show this.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info describes a build. Fields the build did not record are empty: a
// binary built by 'go install MODULE@VERSION' has a Version but no VCS
// fields; one built by 'go build' in a git work tree has the VCS fields and
// a version of "(devel)" or one derived from the revision.
type Info struct {
	Path      string `json:"path"`      // main module path
	Version   string `json:"version"`   // main module version, "(devel)" if unknown
	Revision  string `json:"revision"`  // VCS revision, "" if unknown
	Time      string `json:"time"`      // VCS commit time, RFC 3339, "" if unknown
	Modified  bool   `json:"modified"`  // the work tree had uncommitted changes
	GoVersion string `json:"goVersion"` // Go version that built the binary
	Platform  string `json:"platform"`  // GOOS/GOARCH
}

// Read returns the running binary's build information.
func Read() Info {
	info := Info{Version: "(devel)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	return fromBuildInfo(bi, info)
}

func fromBuildInfo(bi *debug.BuildInfo, info Info) Info {
	info.Path = bi.Main.Path
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}
