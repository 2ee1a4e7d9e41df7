package node

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// probedBloom is a bloom filter (10 bits per key) over the keys of the tables that are looked
// up by key and may miss: heads, pending and equivocating ops, the ever-in-scope index, meta,
// checkpoints, documents. The tables that are only scanned (history, scopes, indexes, the
// dot index, read with a bounded iterator) or only read where the key is known to be there
// (the feed) are left out: their keys were most of a store's filter bytes (about 4 % of the
// store), and a filter never answers a scan. For a key of a table left out it says "may
// contain", so leaving a table out can only cost a read, never a wrong answer.
type probedBloom struct{ b pebble.FilterPolicy }

var probedFilter pebble.FilterPolicy = probedBloom{bloom.FilterPolicy(10)}

func filtered(key []byte) bool {
	if len(key) == 0 {
		return true
	}
	switch key[0] {
	case tFeed, tScope, tHistory, tIndex, tDot:
		return false
	}
	return true
}

func (probedBloom) Name() string { return "fengqiao.probed.bloom10" }

func (p probedBloom) MayContain(ft pebble.FilterType, filter, key []byte) bool {
	return !filtered(key) || p.b.MayContain(ft, filter, key)
}

func (p probedBloom) NewWriter(ft pebble.FilterType) pebble.FilterWriter {
	return probedWriter{p.b.NewWriter(ft)}
}

type probedWriter struct{ w pebble.FilterWriter }

func (w probedWriter) AddKey(key []byte) {
	if filtered(key) {
		w.w.AddKey(key)
	}
}

func (w probedWriter) Finish(dst []byte) []byte { return w.w.Finish(dst) }
