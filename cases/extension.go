package cases

import (
	"fmt"
	"strings"
	"time"
)

// Role is the role a person holds in their organ, as far as the workflow rules care.
type Role string

// RoleUnitHead is 本机关、单位负责人: the only role that may extend handling (R22 Art 34;
// R05 Art 33 said 本行政机关负责人).
const RoleUnitHead Role = "unit_head"

// MaxExtensionDays is the most handling may be extended in total (R22 Art 34: 延长期限不得超过
// 30日).
const MaxExtensionDays = 30

// ExtensionError is an extension of handling that may not be granted. Code is one of:
//
//	no_approver    no approver is named
//	not_unit_head  the approver does not hold RoleUnitHead
//	bad_days       Days is not positive
//	too_long       Days plus the days granted before exceeds MaxExtensionDays
//	no_reason      no reason is given (the petitioner must be told it)
//	not_handling   the item is not being handled: not accepted yet, or the opinion is served
//	late           the handling period had already ended when it was approved
type ExtensionError struct {
	Code    string
	At      time.Time // when it was approved
	Days    int       // days asked for
	Granted int       // days granted before it
	Zh      string
	En      string
}

func (e *ExtensionError) Error() string {
	return fmt.Sprintf("extension of %d days at %s: %s: %s", e.Days, e.At.In(Shanghai).Format(time.RFC3339), e.Code, e.En)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ExtensionError) Unwrap() error { return ErrInvalid }

// CheckExtension checks a new extension of handling, ext (Kind EventExtended), against the
// case's events before it is recorded: the approver holds RoleUnitHead, a reason is given,
// the handling clock is running and not yet past due, and the total stays within
// MaxExtensionDays. A refusal is an *ExtensionError. Clocks applies the same rules to the
// extensions it finds, in time order, and leaves out those that fail them.
func CheckExtension(events []ClockEvent, ext ClockEvent, cal *Calendar) error {
	cs, _ := Clocks(events, cal)
	for i := range cs {
		if cs[i].Kind == ClockHandle {
			if err := checkExtension(ext, &cs[i]); err != nil {
				return err
			}
			return nil
		}
	}
	if err := checkExtension(ext, nil); err != nil {
		return err
	}
	return nil
}

// checkExtension checks e against handling clock h (nil if there is none).
func checkExtension(e ClockEvent, h *Clock) *ExtensionError {
	granted := 0
	if h != nil {
		granted = h.Extended
	}
	refuse := func(code, zh, en string) *ExtensionError {
		return &ExtensionError{Code: code, At: e.Effective(), Days: e.Days, Granted: granted, Zh: zh, En: en}
	}
	at := e.Effective()
	switch {
	case strings.TrimSpace(e.Approver) == "":
		return refuse("no_approver", "延期须由本机关、单位负责人批准，未填写批准人", "an extension must name the unit head who approved it")
	case e.ApproverRole != RoleUnitHead:
		return refuse("not_unit_head", "批准人不是本机关、单位负责人，不能批准延期",
			fmt.Sprintf("the approver's role is %q; only the unit head (%s) may extend handling", e.ApproverRole, RoleUnitHead))
	case e.Days <= 0:
		return refuse("bad_days", "延期天数应为正数", "the extension must be a positive number of days")
	case granted+e.Days > MaxExtensionDays:
		return refuse("too_long", fmt.Sprintf("延期合计不得超过 %d 日（已延期 %d 日，本次 %d 日）", MaxExtensionDays, granted, e.Days),
			fmt.Sprintf("extensions may total at most %d days (%d granted, %d asked)", MaxExtensionDays, granted, e.Days))
	case strings.TrimSpace(e.Reason) == "":
		return refuse("no_reason", "须写明延期理由并告知信访人", "give the reason; the petitioner must be told it")
	case h == nil || at.Before(h.Start) || (!h.Stopped.IsZero() && at.After(h.Stopped)):
		return refuse("not_handling", "事项不在办理期限内（尚未受理或已出具处理意见），不能延期",
			"the item is not being handled (not accepted yet, or the opinion is served)")
	case at.After(h.Due):
		return refuse("late", fmt.Sprintf("办理期限已于 %s 届满，不能再延期", h.Last),
			fmt.Sprintf("the handling period ended on %s; it can no longer be extended", h.Last))
	}
	return nil
}

// extensionErrors applies the valid extensions among evs to handling clock h in time order
// and returns an error for each invalid one. With h nil (never accepted) every extension is
// invalid. An extension before h started but after an earlier acceptance belonged to an
// earlier round of handling and is ignored.
func extensionErrors(evs []ClockEvent, h *Clock, cal *Calendar) []error {
	var errs []error
	for _, e := range evs {
		if e.Kind != EventExtended {
			continue
		}
		if h != nil && e.Effective().Before(h.Start) && acceptedBy(evs, e.Effective()) {
			continue
		}
		if err := checkExtension(e, h); err != nil {
			errs = append(errs, err)
			continue
		}
		h.Extended += e.Days
		h.Days += e.Days
		h.Last, h.Provisional = cal.lastDay(DateOf(h.Start) + Date(h.Days))
		h.Due = h.Last.End()
	}
	return errs
}

// acceptedBy reports whether some acceptance happened at or before t.
func acceptedBy(evs []ClockEvent, t time.Time) bool {
	for _, e := range evs {
		if e.Kind == EventAccepted && !e.Effective().After(t) {
			return true
		}
	}
	return false
}
