package node

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fengqiao/fengqiao/cases"
)

// Case numbers (cases.CaseNumber) are issued inside the batch that writes the registration:
// the replica keeps, per station code and year, the last sequence it issued, in the same
// synced batch as the registration, so a number is never issued twice, even across a crash
// or a clock set back; at a hub the sequence is part of the replicated state, and every
// member issues the same number from the same Raft entry.

// applierWorkflow is the workflow's state of one batch being applied.
type applierWorkflow struct {
	caseSeq map[string]uint64 // case-number counter key → the last sequence issued in this batch
}

func caseSeqKey(code string, year int) string { return "caseno/" + code + "/" + strconv.Itoa(year) }

// nextCaseNumber returns the case number the next registration of station code gets in the
// batch's year, and the counter to keep if it is written.
func (a *applier) nextCaseNumber(code string) (number, key string, seq uint64, err error) {
	year := time.UnixMilli(a.now).In(cases.Shanghai).Year()
	key = caseSeqKey(code, year)
	seq, ok := a.wf.caseSeq[key]
	if !ok {
		v, err := a.r.getMeta(key)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return "", "", 0, fmt.Errorf("case number counter %s: %w", key, err)
		case len(v) != 8:
			return "", "", 0, fmt.Errorf("case number counter %s: %d bytes", key, len(v))
		default:
			seq = binary.BigEndian.Uint64(v)
		}
	}
	number, err = cases.FormatCaseNumber(code, year, seq+1)
	if err != nil {
		return "", "", 0, &cases.FieldError{Field: "case_code", Code: "case_code", Zh: "站点案件编号代码无效", En: err.Error()}
	}
	return number, key, seq + 1, nil
}

// keepCaseNumber records that the registration holding sequence seq of key was written.
func (a *applier) keepCaseNumber(key string, seq uint64) {
	if a.wf.caseSeq == nil {
		a.wf.caseSeq = map[string]uint64{}
	}
	a.wf.caseSeq[key] = seq
	a.wb.Set(metaKey(key), be64(nil, seq), nil)
}

// numbered gives a registration that asks for one (Change.CaseCode) its case number, and an
// id made from it when the change names none: the station's id and the number, unique
// without a network as long as station ids are.
func (a *applier) numbered(ch *Change) (writes []cases.LocalWrite, key string, seq uint64, err error) {
	if ch.CaseCode == "" || ch.Kind != cases.KindRegister {
		return ch.Writes, "", 0, nil
	}
	for _, w := range ch.Writes {
		if w.Field == "case_no" {
			return nil, "", 0, &cases.FieldError{Field: "case_no", Code: "assigned", Zh: "案件编号由系统分配", En: "the case number is assigned by the replica"}
		}
	}
	number, key, seq, err := a.nextCaseNumber(ch.CaseCode)
	if err != nil {
		return nil, "", 0, err
	}
	if ch.Case == "" {
		ch.Case = a.r.origin.Node + "-" + number
	}
	js, _ := json.Marshal(number)
	return append(ch.Writes[:len(ch.Writes):len(ch.Writes)], cases.LocalWrite{Field: "case_no", Action: cases.Set, JSON: js}), key, seq, nil
}
