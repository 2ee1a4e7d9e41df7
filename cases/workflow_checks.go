package cases

import (
	"fmt"
	"slices"
	"time"
)

// The checks of transitions that read the case: opinions served, extensions, hearings, the
// petitioner's and the parties' windows, agreements, routing and recusal.

func served(t *tx, field, zh, en string) *FieldError {
	if _, ok := t.c.Value(field); !ok {
		return fieldErr(field, "opinion_not_served", zh, en)
	}
	return nil
}

func notServedYet(t *tx, field string) *FieldError {
	if _, ok := t.c.Value(field); ok {
		return fieldErr(field, "already_served", "意见已经送达", "the opinion has already been served")
	}
	return nil
}

// extend checks an extension of handling with CheckExtension and adds it to the list.
func extend(t *tx) *FieldError {
	ext := ClockEvent{Kind: EventExtended, At: time.UnixMilli(t.ms("extended_at")), Days: int(t.ms("days")),
		Approver: t.str("approver"), ApproverRole: Role(t.str("approver_role")), Reason: t.str("reason")}
	if err := CheckExtension(ClockEvents(t.c, nil), ext, t.ctx.Calendar); err != nil {
		xe, _ := err.(*ExtensionError)
		field := map[string]string{"no_approver": "approver", "not_unit_head": "approver_role", "bad_days": "days", "too_long": "days",
			"no_reason": "reason"}[xe.Code]
		if field == "" {
			field = "state"
		}
		return &FieldError{Field: field, Code: xe.Code, Zh: xe.Zh, En: xe.En}
	}
	list := Extensions(t.c)
	list = append(list, Extension{At: t.ms("extended_at"), Days: int(t.ms("days")), Approver: ext.Approver, ApproverRole: ext.ApproverRole, Reason: ext.Reason})
	t.writes = append(t.writes, LocalWrite{Field: "extensions", JSON: JSONOf(list)})
	return nil
}

// openHearing starts a hearing: in ordinary handling, or in 复核 (whose days are not counted).
func openHearing(t *tx) *FieldError {
	list := Hearings(t.c)
	for _, h := range list {
		if h.Until == 0 {
			return fieldErr("hearing_from", "hearing_open", "上一次听证尚未结束", "the previous hearing has not ended")
		}
	}
	stage := StageHandling
	if t.from == ReReview {
		stage = StageReReview
	}
	h := HearingRecord{From: t.ms("hearing_from"), Until: t.ms("hearing_until"), Stage: stage}
	if h.Until != 0 && h.Until < h.From {
		return fieldErr("hearing_until", "until_before_from", "听证结束早于开始", "the hearing ends before it starts")
	}
	t.writes = append(t.writes, LocalWrite{Field: "hearings", JSON: JSONOf(append(list, h))})
	return nil
}

// closeHearing ends the hearing under way, which must be of stage: a hearing in 复核 goes
// back to 复核, one in handling back to handling.
func closeHearing(t *tx, stage string) *FieldError {
	list := Hearings(t.c)
	last := -1
	for i := range list {
		if list[i].Until == 0 || i == len(list)-1 {
			last = i
		}
	}
	if last < 0 || list[last].Stage != stage {
		back := Investigating
		if last >= 0 && list[last].Stage == StageReReview {
			back = ReReview
		}
		return fieldErr("state", "hearing_stage", "听证结束后应回到"+stateName(back), "after this hearing the item goes back to "+string(back))
	}
	if list[last].Until == 0 {
		until := t.ms("hearing_until")
		if until < list[last].From {
			return fieldErr("hearing_until", "until_before_from", "听证结束早于开始", "the hearing ends before it starts")
		}
		list[last].Until = until
		t.writes = append(t.writes, LocalWrite{Field: "hearings", JSON: JSONOf(list)})
	}
	return nil
}

// inWindow refuses a request of the petitioner made after its window closed (R22 Art 35,
// 36: 30 days from receiving the reply).
func inWindow(t *tx, k ClockKind, field string) *FieldError {
	at := time.UnixMilli(t.ms(field))
	clocks, _ := Clocks(ClockEvents(t.c, nil), t.ctx.Calendar)
	for _, c := range clocks {
		if c.Kind == k && at.After(c.Due) {
			return fieldErr(field, "late", fmt.Sprintf("请求期限已于 %s 届满（收到答复之日起30日内）", c.Last),
				fmt.Sprintf("the period for the request ended on %s (30 days from receiving the reply)", c.Last))
		}
	}
	return nil
}

// confirmInWindow refuses an application for 司法确认 made more than 30 days after the
// agreement took effect (MedL Art 33).
func confirmInWindow(t *tx) *FieldError {
	at := time.UnixMilli(t.ms("confirmation_filed_at"))
	clocks, _ := Clocks(ClockEvents(t.c, nil), t.ctx.Calendar)
	for _, c := range clocks {
		if c.Kind == ClockConfirmationRequest && at.After(c.Due) {
			return fieldErr("confirmation_filed_at", "late", fmt.Sprintf("申请司法确认的期限已于 %s 届满（协议生效之日起30日内）", c.Last),
				fmt.Sprintf("judicial confirmation had to be applied for by %s (30 days from the agreement)", c.Last))
		}
	}
	return nil
}

// agree checks a 人民调解 agreement: made under a committee by a mediator, and, if written,
// signed by every party, by the mediator, and sealed (MedL Art 28–30).
func agree(t *tx) *FieldError {
	a, _ := t.vals["agreement"].(MediationAgreement)
	full := t.ctx.Full
	if full == nil {
		full = t.c
	}
	if !a.Oral {
		ps, _ := DecodeValue("petitioners", mustValue(full, "petitioners")).([]Person)
		if len(ps) == 0 {
			return fieldErr("agreement.parties_signed", "parties_unknown", "无法读取当事人名单", "the parties of the case cannot be read")
		}
		for _, p := range ps {
			if !slices.Contains(a.PartiesSigned, p.Name) {
				return fieldErr("agreement.parties_signed", "unsigned", "当事人“"+p.Name+"”尚未签名、盖章或按指印，协议不生效（人民调解法第29条）",
					"a party has not signed, sealed or fingerprinted the agreement; it is not in effect (MedL Art 29)")
			}
		}
		switch {
		case !a.MediatorSigned:
			return fieldErr("agreement.mediator_signed", "unsigned", "调解员尚未签名（人民调解法第29条）", "the mediator has not signed (MedL Art 29)")
		case !a.Sealed:
			return fieldErr("agreement.sealed", "unsealed", "尚未加盖人民调解委员会印章（人民调解法第29条）", "the committee's seal is missing (MedL Art 29)")
		}
	}
	at := a.At
	if at == 0 {
		if t.ctx.Now.IsZero() {
			return fieldErr("agreement.at", "required", "请填写协议生效时间", "give the time the agreement took effect")
		}
		at = t.ctx.Now.UnixMilli()
	}
	t.writes = append(t.writes, LocalWrite{Field: "agreement_at", JSON: JSONOf(at)})
	return nil
}

func mustValue(c *Case, f string) []byte { b, _ := c.Value(f); return b }

// checkRouting keeps an accusation away from the accused, forwarding and assigning at the
// same or a lower tier within jurisdiction, and recused persons off the case.
func checkRouting(t *tx) *FieldError {
	if err := CheckNotAccused(t.c, t.str("handler_unit"), t.str("assignee"), t.str("handler_region")); err != nil {
		return err
	}
	if r := t.str("handler_region"); r != "" && (t.to == Forwarded || t.to == Assigned) {
		if err := CheckRouteTier(t.to, t.ctx.Region, t.c.Strings("region"), r); err != nil {
			return err
		}
	}
	return checkRecusal(t)
}

func checkRecusal(t *tx) *FieldError {
	if h := t.str("handler"); h != "" {
		return CheckNotRecused(t.c, h)
	}
	return nil
}
