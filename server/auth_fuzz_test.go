package server

import (
	"strings"
	"testing"
)

// FuzzParseToken parses what a client sends as its session or token (outside input): it
// accepts only the two shapes, and what it accepts names a document id that is a key part.
func FuzzParseToken(f *testing.F) {
	f.Add("fqs_" + strings.Repeat("A", 43))
	f.Add("fqt_0123456789abcdef_" + strings.Repeat("A", 43))
	f.Add("fqt_0123456789ABCDEF_" + strings.Repeat("A", 43))
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, tok string) {
		kind, id, ok := ParseToken(tok)
		if !ok {
			return
		}
		if kind != sessionPrefix && kind != tokenPrefix || id == "" || strings.ContainsAny(id, "\x00/ ") || !strings.HasPrefix(tok, kind) {
			t.Fatalf("ParseToken(%q) = %q %q", tok, kind, id)
		}
	})
}

// FuzzDecodeLocalRecords decodes session, token and sign-in records as a store holds them
// (a damaged or altered store is outside input too): no panic, no huge allocation.
func FuzzDecodeLocalRecords(f *testing.F) {
	f.Add(session{account: "wg.a", credDot: "hub/1/3", created: 1, expires: 2}.encode())
	f.Add(apiToken{account: "wg.a", hash: make([]byte, 32), created: 1, label: "x"}.encode())
	f.Add(failures{n: 3, last: 9}.encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := decodeSession(data); err == nil {
			if got, err := decodeSession(s.encode()); err != nil || got != s {
				t.Fatalf("session round trip: %v %+v %+v", err, got, s)
			}
		}
		if tk, err := decodeToken(data); err == nil && len(tk.hash) > 32 {
			t.Fatalf("token hash of %d bytes", len(tk.hash))
		}
		_ = decodeFailures(data)
	})
}
