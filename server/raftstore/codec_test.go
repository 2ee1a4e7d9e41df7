package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func codecCases() []*raft.Log {
	ls := []*raft.Log{
		{Index: 1},
		{Index: math.MaxUint64, Term: math.MaxUint64, Type: 255, Data: []byte{0}, Extensions: []byte{1, 2}},
		{Index: 7, Term: 2, Type: raft.LogConfiguration, Data: bytes.Repeat([]byte("x"), 70000),
			AppendedAt: time.Unix(-1, 999_999_999)},
		{Index: 8, AppendedAt: time.Unix(0, 0)},
		{Index: 9, AppendedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, // one ns after the zero time
		{Index: 10, AppendedAt: time.Now()},                              // with a monotonic reading
	}
	for i := uint64(1); i <= 40; i++ {
		ls = append(ls, makeLog(i, i/3))
	}
	return ls
}

func TestCodec_RoundTrip(t *testing.T) {
	for _, want := range codecCases() {
		b := encodeEntry(want)
		if len(b) != entryLen(want) {
			t.Fatalf("log %d: %d bytes, entryLen says %d", want.Index, len(b), entryLen(want))
		}
		var got raft.Log
		if err := decodeEntry(b, want.Index, &got); err != nil {
			t.Fatalf("log %d: %v", want.Index, err)
		}
		if d := diffLog(&got, want); d != "" {
			t.Fatalf("log %d: %s", want.Index, d)
		}
		if !got.AppendedAt.IsZero() && got.AppendedAt.Location() != time.UTC {
			t.Fatalf("log %d: appended at in %v, want UTC", want.Index, got.AppendedAt.Location())
		}
	}
}

// Every prefix of a valid entry, and every entry with bytes after it, fails cleanly.
func TestCodec_Truncated(t *testing.T) {
	for _, l := range codecCases()[:12] {
		b := encodeEntry(l)
		for n := 0; n < len(b); n++ {
			var got raft.Log
			if err := decodeEntry(b[:n], l.Index, &got); err == nil {
				t.Fatalf("log %d cut to %d of %d bytes: decoded", l.Index, n, len(b))
			}
		}
		var got raft.Log
		if err := decodeEntry(append(b, 0), l.Index, &got); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("log %d with a trailing byte: %v", l.Index, err)
		}
	}
}

// A length declared beyond the bytes remaining is refused before anything is allocated for
// it (msgpack-style "2^62 bytes follow" in a 20-byte value).
func TestCodec_DeclaredLength(t *testing.T) {
	b := []byte{entryFormat, 5, 1, 0}
	b = binary.AppendUvarint(b, 1<<62)
	b = append(b, "short"...)
	var l raft.Log
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := decodeEntry(b, 5, &l)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("declared 2^62 bytes: %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<10 { // the error message only
		t.Errorf("%d bytes allocated decoding a lying length", n)
	}
	for _, bad := range [][]byte{
		{},                              // empty
		{2, 5},                          // unknown format
		{entryFormat, 5, 1, 0, 0, 0, 2}, // bad time flag
		{entryFormat, 5, 1, 0, 0, 0, 1, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03},                // 1e9 ns
		{entryFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // varint overflow
	} {
		if err := decodeEntry(bad, 5, &l); err == nil {
			t.Errorf("% x decoded", bad)
		}
	}
	if err := decodeEntry([]byte{2, 5}, 5, &l); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("format 2: %v", err)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for _, l := range codecCases()[:8] {
		if len(l.Data) < 1000 {
			f.Add(encodeEntry(l), l.Index)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, index uint64) {
		var l raft.Log
		if err := decodeEntry(b, index, &l); err != nil {
			return
		}
		if len(l.Data)+len(l.Extensions) > len(b) {
			t.Fatalf("decoded %d bytes of payload from %d", len(l.Data)+len(l.Extensions), len(b))
		}
		var again raft.Log
		if err := decodeEntry(encodeEntry(&l), index, &again); err != nil {
			t.Fatalf("re-encoded entry: %v", err)
		}
		if d := diffLog(&again, &l); d != "" {
			t.Fatalf("re-encoded entry: %s", d)
		}
	})
}
