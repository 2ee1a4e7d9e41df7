package server

// Fuzz targets of the workflow endpoints' body decoders (outside input). Seed corpora are in
// testdata/fuzz/<FuzzName>/.

import (
	"errors"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
)

func wantFieldError(t *testing.T, err *cases.FieldError) {
	t.Helper()
	if err != nil && (err.Code == "" || err.Zh == "" || err.En == "") {
		t.Fatalf("incomplete error %+v", err)
	}
}

// FuzzDecodeRegistration: any body is decoded or refused with a complete FieldError, never a
// panic; what it decodes cases.Preview validates without panicking, refusing with a
// FieldError only.
func FuzzDecodeRegistration(f *testing.F) {
	f.Add([]byte(`{"kind":"petition","region":"420323100201","summary":"x","petitioners":[{"name":"王芳"}],"tags":["a"],"notes":[{"text":"n"}]}`))
	f.Add([]byte(`{"id":"a/b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, writes, err := decodeRegistration(body)
		wantFieldError(t, err)
		if err != nil {
			return
		}
		if id == "" {
			id = "new"
		}
		if _, perr := cases.Preview(id, writes); perr != nil {
			var fe *cases.FieldError
			if !errors.As(perr, &fe) {
				t.Fatalf("Preview refused with %v (%T)", perr, perr)
			}
		}
	})
}

// FuzzDecodePatch: any body is decoded or refused; a decoded base is well-formed dots.
func FuzzDecodePatch(f *testing.F) {
	f.Add([]byte(`{"base":["st/1/2"],"set":{"summary":"x"},"add":{"tags":["a"]},"remove":{"tags":["b"]}}`))
	f.Add([]byte(`{"base":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		writes, base, err := decodePatch(body)
		wantFieldError(t, err)
		if err != nil {
			return
		}
		for _, d := range base {
			if d.Seq == 0 || d.Origin.Node == "" {
				t.Fatalf("decoded base dot %v", d)
			}
		}
		if len(writes) > cases.MaxWrites {
			t.Fatalf("%d writes", len(writes))
		}
	})
}

// FuzzDecodeTransition: any body is decoded or refused; a decoded target is a known state.
func FuzzDecodeTransition(f *testing.F) {
	f.Add([]byte(`{"to":"ACCEPTED","data":{"notice_at":1772416800000},"state":"REGISTERED"}`))
	f.Add([]byte(`{"to":"EXTENDED","data":{"days":30,"approver":"李局长","approver_role":"unit_head","reason":"r"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tb, err := decodeTransition(body)
		wantFieldError(t, err)
		if err == nil && cases.StateNames[tb.To] == "" {
			t.Fatalf("decoded an unknown target %q", tb.To)
		}
	})
}
