package cases_test

// Fuzz targets of the workflow's decoders of outside input: a transition's data as a JSON
// object (the body of POST /api/v1/cases/{id}/transitions), the workflow's value types as
// JSON, and a metric definition file. Seed corpora are in testdata/fuzz/<FuzzName>/.

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/crdt"
)

// FuzzTransition: any JSON object as the data of any transition from any state never panics;
// a refusal is a *FieldError; what is accepted Prepare takes as it is, and its op moves the
// case to the state asked for.
func FuzzTransition(f *testing.F) {
	f.Add(uint8(0), uint8(2), []byte(`{"handler_unit":"县住建局","handler_region":"420323"}`))
	f.Add(uint8(1), uint8(14), []byte(`{"days":30,"approver":"李局长","approver_role":"unit_head","reason":"需会同调查"}`))
	states := allStates()
	f.Fuzz(func(t *testing.T, from, to uint8, body []byte) {
		var d map[string]json.RawMessage
		if json.Unmarshal(body, &d) != nil {
			return
		}
		kind := cases.Kinds()[int(from)%2]
		c := caseAt(t, kind, states[int(from/2)%len(states)], map[string][]byte{"notice_at": ms(daysAgo(10)), "served_at": ms(daysAgo(5)),
			"hearings": openHearing(cases.StageHandling)})
		target := states[int(to)%len(states)]
		ws, err := cases.TransitionAt(c, target, d, cases.TransitionContext{Now: wfNow, Region: "420323", Calendar: cases.DefaultCalendar(), Full: c})
		if err != nil {
			var fe *cases.FieldError
			if !errors.As(err, &fe) || fe.Code == "" || fe.Zh == "" || fe.En == "" {
				t.Fatalf("refusal %v (%T) is not a complete FieldError", err, err)
			}
			return
		}
		writes, obs, err := cases.Prepare(c, cases.KindTransition, ws, nil)
		if err != nil {
			t.Fatalf("TransitionAt accepted %s, Prepare refused its writes: %v", body, err)
		}
		op := cases.Op{Dot: crdt.Dot{Origin: origins[1], Seq: 1}, Case: caseID, Kind: cases.KindTransition, Author: "u", Writes: writes, Observed: obs}
		c.Apply(&op, cases.Meta{})
		if c.State() != target {
			t.Fatalf("state %s after a transition to %s", c.State(), target)
		}
		cases.CaseClocks(c, cases.DefaultCalendar(), nil)
		cases.DueBound(c, nil)
	})
}

// FuzzEncodeWorkflowValue: EncodeJSON of the workflow's value types never panics; a value it
// accepts decodes, and the decoded value re-encodes from its JSON to the same bytes.
func FuzzEncodeWorkflowValue(f *testing.F) {
	fields := []string{"extensions", "hearings", "agreement", "mediation_consent", "handler_region", "flags"}
	f.Add(uint8(0), []byte(`[{"at":1767225600000,"days":10,"approver":"李局长","approver_role":"unit_head","reason":"需鉴定"}]`))
	f.Add(uint8(2), []byte(`{"committee":"c","mediator":"m","parties_signed":["张三"],"mediator_signed":true,"sealed":true,"terms":"t"}`))
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		field := fields[int(which)%len(fields)]
		b, err := cases.EncodeJSON(field, raw)
		if err != nil {
			var fe *cases.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("refusal %v is not a FieldError", err)
			}
			return
		}
		v := cases.DecodeValue(field, b)
		if _, opaque := v.(cases.Opaque); opaque {
			t.Fatalf("accepted %s, stored bytes %x do not decode", raw, b)
		}
		again, err := cases.EncodeJSON(field, cases.JSONOf(v))
		if err != nil || !reflect.DeepEqual(cases.DecodeValue(field, again), v) {
			t.Fatalf("%s: %#v does not survive its own JSON: %v", field, v, err)
		}
	})
}

// FuzzParseMetricDefinitions: any file is parsed or refused with a FieldError, never a
// panic; definitions it accepts compute over cases without panicking.
func FuzzParseMetricDefinitions(f *testing.F) {
	f.Add(cases.DefaultMetricsText())
	f.Add(`{"version":"x","near_due_days":1,"collective_size":5,"metrics":[{"name":"n","zh":"z","en":"e","kind":"count","anchor":"","numerator":["repeat"],"doc":""}]}`)
	fs := []cases.CaseFacts{{ID: "a", Flags: []string{cases.FlagRepeat, cases.FlagBacklog}, Times: map[string]int64{"received_at": 1, "closed_at": 2, "notice_at": 1, "served_at": 2}}}
	f.Fuzz(func(t *testing.T, text string) {
		d, err := cases.ParseMetricDefinitions(text)
		if err != nil {
			var fe *cases.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("refusal %v is not a FieldError", err)
			}
			return
		}
		cases.ComputeMetrics(d, fs, time.UnixMilli(0), time.UnixMilli(10), time.UnixMilli(10))
	})
}
