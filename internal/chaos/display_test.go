package chaos

import "testing"

// The check forgives a station only the display of a conflict in which its own op carries
// the hub's clock flag; any other difference is still a mismatch.
func TestSameCase_OnlyOwnClockFlagsForgiven(t *testing.T) {
	hub := `{"id":"K","fields":{"category":"B","channel":"网络"},"conflicts":{"category":[{"value":"A","op":"st-01/1/5","clock_flagged":true},{"value":"B","op":"st-02/1/7"}]},"notes":[]}`
	own := `{"id":"K","fields":{"category":"A","channel":"网络"},"conflicts":{"category":[{"value":"A","op":"st-01/1/5"},{"value":"B","op":"st-02/1/7"}]},"notes":[]}`
	if same, ownClock := sameCase(hub, own, "st-01"); same || !ownClock {
		t.Errorf("st-01's own unflagged op shown first: same %v ownClock %v, want a forgiven difference", same, ownClock)
	}
	if _, ownClock := sameCase(hub, own, "st-02"); ownClock {
		t.Error("the same difference at another station is forgiven")
	}
	other := `{"id":"K","fields":{"category":"A","channel":"电话"},"conflicts":{"category":[{"value":"A","op":"st-01/1/5"},{"value":"B","op":"st-02/1/7"}]},"notes":[]}`
	if _, ownClock := sameCase(hub, other, "st-01"); ownClock {
		t.Error("a difference in another field is forgiven")
	}
	missing := `{"id":"K","fields":{"category":"A","channel":"网络"},"conflicts":{"category":[{"value":"A","op":"st-01/1/5"}]},"notes":[]}`
	if _, ownClock := sameCase(hub, missing, "st-01"); ownClock {
		t.Error("a missing conflict value is forgiven")
	}
}
