package modules

import (
	"encoding/json"

	"golang.org/x/mod/module"
)

// VersionList is a list of module versions as modferry's JSON outputs
// write it: [{"path": ..., "version": ...}, ...], and [] (never null) when
// empty. It decodes from the same form.
type VersionList []module.Version

// versionJSON is one module version in JSON outputs.
type versionJSON struct {
	Path    string `json:"path"`
	Version string `json:"version"`
}

// MarshalJSON implements json.Marshaler.
func (l VersionList) MarshalJSON() ([]byte, error) {
	out := make([]versionJSON, len(l))
	for i, v := range l {
		out[i] = versionJSON{v.Path, v.Version}
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler.
func (l *VersionList) UnmarshalJSON(b []byte) error {
	var in []versionJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*l = make(VersionList, len(in))
	for i, v := range in {
		(*l)[i] = module.Version{Path: v.Path, Version: v.Version}
	}
	return nil
}
