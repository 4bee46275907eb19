package sign

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzVerify feeds Verify arbitrary signature files and messages, as a
// bundle from elsewhere carries: it must never panic, fail only with
// ErrBadSignature or ErrUnknownKey, and accept nothing but the message the
// key signed with its trusted comment unchanged (the global signature
// covers the comment, which names the bundle).
func FuzzVerify(f *testing.F) {
	key, pub := testKey(f)
	pk, err := ParsePublicKey(pub)
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte(`{"formatVersion":1}`)
	const comment = "timestamp:1764633600\tfile:b.tar.zst"
	sig, err := SignWithComment(key, msg, comment)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg, sig)
	f.Add(msg, bytes.Replace(sig, []byte("file:b"), []byte("file:c"), 1))
	f.Add([]byte(`{"formatVersion":2}`), sig)
	f.Add(msg, sig[:len(sig)/2])
	f.Add(msg, append(bytes.Clone(sig), '\n'))
	f.Add(msg, pub)
	f.Fuzz(func(t *testing.T, m, s []byte) {
		id, err := Verify([]PublicKey{pk}, m, s)
		tc, tcErr := TrustedComment(s)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("Verify: %v matches neither ErrBadSignature nor ErrUnknownKey", err)
			}
			return
		}
		if !bytes.Equal(m, msg) {
			t.Fatalf("accepted a signature for another message %q", m)
		}
		if tcErr != nil || tc != comment {
			t.Fatalf("accepted a signature whose trusted comment is %q (%v), want %q", tc, tcErr, comment)
		}
		if id != pk.ID() {
			t.Fatalf("key ID %s, want %s", id, pk.ID())
		}
	})
}

// FuzzParsePublicKey: a public key file is read from wherever a user
// points --pubkey; whatever it holds, parsing must not panic.
func FuzzParsePublicKey(f *testing.F) {
	_, pub := testKey(f)
	f.Add(pub)
	f.Add(pub[:len(pub)/2])
	f.Add([]byte("untrusted comment: x\nRWQ=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err == nil && k.ID() == "" {
			t.Fatal("a parsed key without an ID")
		}
	})
}
