package export

import "encoding/json"

// MarshalJSON implements json.Marshaler in the form of modferry's JSON
// outputs: the duration as a number of seconds (durationSeconds), and the
// resolved module queries and the toolchains as lists, [] when empty.
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain Summary
	return json.Marshal(struct {
		plain
		DurationSeconds float64  `json:"durationSeconds"`
		Resolved        []string `json:"resolved"`
		Toolchains      []string `json:"toolchains"`
	}{plain(s), s.Duration.Seconds(), orEmpty(s.ResolvedQuery), orEmpty(s.Toolchains)})
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
