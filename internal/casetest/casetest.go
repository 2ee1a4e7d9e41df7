// Package casetest is test support shared by the replica's and the protocol's tests: valid
// changes to write (a registration, an edit, a note) and the writes that must succeed.
package casetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/node"
)

// BaseTime is the instant registrations are received at by default (2026-01-01, ms).
const BaseTime = int64(1767225600000)

// ResidentID returns a valid 18-digit resident ID registered in county region6, made with
// cases.ResidentIDCheck.
func ResidentID(region6 string, serial int) string {
	first17 := fmt.Sprintf("%s1980%02d%02d%03d", region6[:6], 1+serial%12, 1+serial%28, serial%1000)
	c, ok := cases.ResidentIDCheck(first17)
	if !ok {
		panic("ResidentID: bad first 17 " + first17)
	}
	return first17 + string(c)
}

// JSONString is s as a JSON string.
func JSONString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// Registration returns a valid registration of case id in region (a 12- or 9-digit code),
// received at receivedAt (ms; 0 means BaseTime).
func Registration(id, region, author string, receivedAt int64) node.Change {
	if receivedAt == 0 {
		receivedAt = BaseTime
	}
	persons, _ := json.Marshal([]cases.Person{{
		Name: "张三", IDNumber: ResidentID(region, len(id)+int(id[len(id)-1])), Phone: "13812345678",
	}})
	at := json.RawMessage(fmt.Sprint(receivedAt))
	return node.Change{Case: id, Kind: cases.KindRegister, Author: author, Writes: []cases.LocalWrite{
		{Field: "kind", Action: cases.Set, JSON: JSONString(cases.MatterPetition)},
		{Field: "region", Action: cases.Set, JSON: JSONString(region)},
		{Field: "petitioners", Action: cases.Set, JSON: persons},
		{Field: "summary", Action: cases.Set, JSON: JSONString("反映邻居建房占用公共通道影响出行，请求依法处理。")},
		{Field: "category", Action: cases.Set, JSON: JSONString("邻里纠纷")},
		{Field: "registered_at", Action: cases.Set, JSON: at},
		{Field: "received_at", Action: cases.Set, JSON: at},
	}}
}

// Edit returns a change setting one string field of case id.
func Edit(id, field, value, author string) node.Change {
	return node.Change{Case: id, Kind: cases.KindEdit, Author: author,
		Writes: []cases.LocalWrite{{Field: field, Action: cases.Set, JSON: JSONString(value)}}}
}

// Note returns a change appending a note to case id.
func Note(id, text, author string) node.Change {
	b, _ := json.Marshal(cases.Note{Text: text})
	return node.Change{Case: id, Kind: cases.KindNote, Author: author,
		Writes: []cases.LocalWrite{{Field: "notes", Action: cases.Append, JSON: b}}}
}

// MustWrite writes c to r and fails the test if it is refused.
func MustWrite(t testing.TB, r *node.Replica, c node.Change) cases.Op {
	t.Helper()
	op, err := r.Write(context.Background(), c)
	if err != nil {
		t.Fatalf("write %s %s on %s: %v", c.Kind, c.Case, r.Origin().Node, err)
	}
	return op
}

// MustWriteAll writes changes in batches of 500 and fails on any refused change.
func MustWriteAll(t testing.TB, r *node.Replica, changes []node.Change) {
	t.Helper()
	for len(changes) > 0 {
		n := min(len(changes), 500)
		_, errs, err := r.WriteBatch(context.Background(), changes[:n], nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range errs {
			if e != nil {
				t.Fatalf("change %d (%s %s): %v", i, changes[i].Kind, changes[i].Case, e)
			}
		}
		changes = changes[n:]
	}
}
