package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fengqiao/fengqiao/cases"
)

// A record is how the feed (and the pending and equivocation tables) store an op:
//
//	flags (1 byte: bit 0 = flagged, bit 1 = quarantined) | uvarint len(via) | via | varint receivedAt | canonical op
//
// via is the peer the op came from ("" for a local write): the feed never sends an op back
// to the peer it came from.
type record struct {
	Via  string
	Meta cases.Meta
	Raw  []byte // canonical op encoding; aliases the stored value
}

func appendRecord(b []byte, rec record) []byte {
	var flags byte
	if rec.Meta.Flagged {
		flags |= 1
	}
	if rec.Meta.Quarantined {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(rec.Via)))
	b = append(b, rec.Via...)
	b = binary.AppendVarint(b, rec.Meta.ReceivedAt)
	return append(b, rec.Raw...)
}

var errBadRecord = errors.New("corrupt op record")

func parseRecord(b []byte) (record, error) {
	var rec record
	if len(b) < 1 {
		return rec, errBadRecord
	}
	rec.Meta.Flagged = b[0]&1 != 0
	rec.Meta.Quarantined = b[0]&2 != 0
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return rec, errBadRecord
	}
	rec.Via = string(b[k : k+int(n)])
	b = b[k+int(n):]
	at, k := binary.Varint(b)
	if k <= 0 {
		return rec, errBadRecord
	}
	rec.Meta.ReceivedAt = at
	rec.Raw = b[k:]
	return rec, nil
}

// decodeRecord parses a record and decodes its op.
func decodeRecord(b []byte) (record, cases.Op, error) {
	rec, err := parseRecord(b)
	if err != nil {
		return rec, cases.Op{}, err
	}
	op, err := cases.DecodeOp(rec.Raw)
	if err != nil {
		return rec, op, fmt.Errorf("stored op: %w", err)
	}
	return rec, op, nil
}
