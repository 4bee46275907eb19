package bundle

// Internals for the external tests (package bundle_test), which share their
// helpers with other packages' tests through package bundletest.
var (
	EncodeTarHeader = encodeTarHeader
	IsH1            = isH1
	MemberErr       = memberErr
	NewDecoder      = newDecoder
	NewEncoder      = newEncoder
	Padding         = padding
	ReadTar         = readTar
	TarHeader       = tarHeader
)

// Canonical returns m in canonical order (see canonical).
func (m *Manifest) Canonical() *Manifest { return m.canonical() }

// SetZipMemory sets the memory for module zips held in memory while a
// bundle is read (0: every zip is checked from its staged file) and
// returns the function that restores it.
func SetZipMemory(n int64) (restore func()) {
	old := zipMemory
	zipMemory = n
	return func() { zipMemory = old }
}
