package vulndb

// A Finding is a module version that an entry affects.
type Finding struct {
	Module  string   `json:"module"`
	Version string   `json:"version"`
	ID      string   `json:"id"`
	Aliases []string `json:"aliases"`
	Summary string   `json:"summary"`
	// Fixed is the lowest version above Version that fixes it; "" if
	// none does yet.
	Fixed string `json:"fixed"`
	// Withdrawn reports an entry its authors withdrew.
	Withdrawn bool `json:"withdrawn"`
}

// Findings reports which of the module's versions (with "v") the
// database's entries affect, by version and then ID. Withdrawn entries
// are left out unless withdrawn is set.
func (db *DB) Findings(path string, versions []string, withdrawn bool) []Finding {
	if db.byModule == nil {
		db.byModule = map[string][]string{}
		for _, id := range db.ids() {
			seen := map[string]bool{}
			for _, a := range db.entries[id].Affected {
				if p := a.Package.Name; !seen[p] {
					seen[p] = true
					db.byModule[p] = append(db.byModule[p], id)
				}
			}
		}
	}
	var out []Finding
	for _, v := range versions {
		for _, id := range db.byModule[path] {
			e := db.entries[id]
			if e.Withdrawn != nil && !withdrawn {
				continue
			}
			ok, fixed := e.Affects(path, v)
			if !ok {
				continue
			}
			aliases := e.Aliases
			if aliases == nil {
				aliases = []string{}
			}
			out = append(out, Finding{Module: path, Version: v, ID: id, Aliases: aliases, Summary: e.Summary, Fixed: fixed, Withdrawn: e.Withdrawn != nil})
		}
	}
	return out
}
