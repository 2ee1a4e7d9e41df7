package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/internal/mp"
	"github.com/fengqiao/fengqiao/node"
)

// kindWrite is an entry of the hub's own writes (a county or city worker acting at the hub):
// local changes, validated and turned into ops of the hub's origin inside apply, so that
// their seqs and chain hashes come from the log's order, never from whichever member
// happened to lead when they were proposed.
const kindWrite = 2

const maxWriteChanges = 1000

// EncodeWrite encodes changes made at receivedAt (ms; stamped by the proposing member) as a
// log entry. Entries of this kind are version 2.
func EncodeWrite(receivedAt int64, changes []node.Change) ([]byte, error) {
	body, err := json.Marshal(changes) // encoding/json sorts map keys: the same changes, the same bytes
	if err != nil {
		return nil, fmt.Errorf("encode write entry: %w", err)
	}
	return mp.Encode(func(w *mp.Writer) {
		w.ArrayLen(4)
		w.Uint(2)
		w.Uint(kindWrite)
		w.Int(receivedAt)
		w.Bin(body)
	}), nil
}

// entryKind reads an entry's version and kind, refusing a newer version.
func entryKind(data []byte) (uint64, error) {
	rd := mp.NewReader(data)
	rd.ExpectArray(2, 64)
	version, kind := rd.Uint(), rd.Uint()
	switch {
	case rd.Err() != nil:
		return 0, fmt.Errorf("%w: %v", ErrBadEntry, rd.Err())
	case version > EntryVersion:
		return 0, fmt.Errorf("%w: version %d, this build reads up to %d", ErrNewerEntry, version, EntryVersion)
	}
	return kind, nil
}

// DecodeWrite decodes an entry of the hub's own writes.
func DecodeWrite(data []byte) (receivedAt int64, changes []node.Change, err error) {
	rd := mp.NewReader(data)
	rd.ExpectArray(4, 4)
	version, kind := rd.Uint(), rd.Uint()
	receivedAt = rd.Int()
	body := rd.Bytes(maxForwardBytes)
	switch {
	case rd.Err() != nil:
		return 0, nil, fmt.Errorf("%w: %v", ErrBadEntry, rd.Err())
	case version > EntryVersion:
		return 0, nil, fmt.Errorf("%w: version %d, this build reads up to %d", ErrNewerEntry, version, EntryVersion)
	case kind != kindWrite || version < 2 || rd.Remaining() != 0 || receivedAt <= 0:
		return 0, nil, fmt.Errorf("%w: write entry of kind %d, version %d, time %d", ErrBadEntry, kind, version, receivedAt)
	}
	if err := json.Unmarshal(body, &changes); err != nil || len(changes) == 0 || len(changes) > maxWriteChanges {
		return 0, nil, fmt.Errorf("%w: write entry of %d changes: %v", ErrBadEntry, len(changes), err)
	}
	return receivedAt, changes, nil
}

// applyWrite applies an entry of the hub's own writes at index.
func (f *FSM) applyWrite(index uint64, data []byte) any {
	at, changes, err := DecodeWrite(data)
	if err != nil {
		return f.stop(index, err)
	}
	ops, errs, err := f.Replica().WriteBatchAt(context.Background(), changes, at, index)
	switch {
	case errors.Is(err, node.ErrAlreadyApplied):
		return ApplyResult{Index: index}
	case err != nil:
		return f.stop(index, err)
	}
	res := ApplyResult{Index: index, Ops: ops, ChangeErrs: errs}
	res.Result.FeedSeq = f.Replica().Status().FeedSeq
	return res
}

// WriteBatch makes many changes at the hub, in entries of up to 1,000 changes, each
// validated against the case as the changes before it left it; errs[i] says why change i was
// refused (nil: ops[i] was written). err is set when an entry as a whole failed.
func (m *Member) WriteBatch(ctx context.Context, changes []node.Change) (ops []cases.Op, errs []error, err error) {
	for len(changes) > 0 {
		n := min(len(changes), maxWriteChanges)
		entry, err := EncodeWrite(m.opts.Now().UnixMilli(), changes[:n])
		if err != nil {
			return ops, errs, err
		}
		res, err := m.propose(ctx, entry)
		if err == nil {
			err = res.Err
		}
		if err != nil {
			return ops, errs, err
		}
		if len(res.Ops) != n || len(res.ChangeErrs) != n {
			return ops, errs, fmt.Errorf("hub write: entry %d answered %d ops for %d changes", res.Index, len(res.Ops), n)
		}
		ops, errs = append(ops, res.Ops...), append(errs, res.ChangeErrs...)
		changes = changes[n:]
	}
	return ops, errs, nil
}

// Write makes a change at the hub (an assignment, a reply, a note by county staff): it is
// validated strictly and becomes an op of the hub's origin inside apply, on every member
// alike. A validation failure is the *cases.FieldError, and nothing is written.
func (m *Member) Write(ctx context.Context, c node.Change) (cases.Op, error) {
	entry, err := EncodeWrite(m.opts.Now().UnixMilli(), []node.Change{c})
	if err != nil {
		return cases.Op{}, err
	}
	res, err := m.propose(ctx, entry)
	switch {
	case err != nil:
		return cases.Op{}, err
	case res.Err != nil:
		return cases.Op{}, res.Err
	case len(res.ChangeErrs) == 1 && res.ChangeErrs[0] != nil:
		return cases.Op{}, res.ChangeErrs[0]
	case len(res.Ops) != 1:
		return cases.Op{}, fmt.Errorf("hub write: entry %d answered %d ops", res.Index, len(res.Ops))
	}
	return res.Ops[0], nil
}
