package cases

import (
	"errors"
	"fmt"
)

// ErrInvalid marks every validation failure of a local write; errors.Is(err, ErrInvalid)
// tells a caller that the input, not the system, is at fault (HTTP 400, not 500).
var ErrInvalid = errors.New("invalid input")

// FieldError is a validation failure that a UI can show next to the field it concerns, in the
// user's language. Code is stable and machine-readable ("resident_id_checksum", ...); Zh and
// En are the messages.
type FieldError struct {
	Field string // the field's name as the API spells it, e.g. "petitioners[0].id_number"
	Code  string
	Zh    string
	En    string
	// Rule names the provision a workflow refusal rests on ("R22 Art 34"), if any.
	Rule string `json:",omitempty"`
	// Related is the case a refusal points at (the earlier case of a 不再受理), if any.
	Related string `json:",omitempty"`
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Code, e.En)
	}
	return fmt.Sprintf("%s: %s: %s", e.Field, e.Code, e.En)
}

// Unwrap makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Message returns the message in lang ("zh" or "en"; anything else gives Chinese).
func (e *FieldError) Message(lang string) string {
	if lang == "en" {
		return e.En
	}
	return e.Zh
}

// fieldErr builds a FieldError.
func fieldErr(field, code, zh, en string) *FieldError {
	return &FieldError{Field: field, Code: code, Zh: zh, En: en}
}

// WithField returns a copy of e whose Field is prefix + "." + e.Field (or prefix alone when
// e.Field is empty), for errors found inside a nested value.
func (e *FieldError) WithField(prefix string) *FieldError {
	c := *e
	if c.Field == "" {
		c.Field = prefix
	} else {
		c.Field = prefix + "." + c.Field
	}
	return &c
}
