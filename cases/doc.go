// Package cases owns the case document of Fengqiao: a petition item (信访事项) or a grassroots
// dispute (矛盾纠纷) built from the convergent types of package crdt, the ops that change it,
// their canonical encoding, the field schema and the validation of local writes.
//
// A case is a pure function of its set of ops (Fold). Every user-facing field is a
// multi-value register, so two offline edits that did not see each other become a visible
// conflict with both values, authors and times; tags are an add-wins set; notes and
// attachments are append-only logs.
//
// Two strictnesses:
//
//   - A local write (API, UI, import) is validated strictly: unknown fields, wrong types,
//     a bad resident-ID check digit, a malformed phone or an unknown region code are refused
//     with a *FieldError naming the field, in Chinese and English, before anything is written.
//   - A replicated op that decodes (DecodeOp) is accepted even if today's rules would refuse
//     it, because rules change and a station may be offline for a year. Check lists what it
//     breaks so the replica can flag it for a person; unknown fields and kinds from newer
//     versions are kept as opaque bytes and passed on.
//
// The package is pure: no I/O, no goroutines, no wall clock. The workflow rules (states,
// transitions, statutory clocks) live in workflow.go, beside the document they act on.
package cases
