package cases

import (
	"fmt"

	"github.com/fengqiao/fengqiao/internal/mp"
)

// DecodeValue turns a stored value of field into a JSON-ready Go value: string, int64,
// []Person, Party, Note or File. Values of unknown fields, and values whose encoding this
// version does not understand, come back as Opaque so that they can be shown and passed on.
func DecodeValue(field string, b []byte) any {
	spec, ok := Fields[field]
	if !ok {
		return Opaque(b)
	}
	return decodeSpec(spec, b)
}

// decodeSpec decodes a stored value of the type spec describes (see DecodeValue).
func decodeSpec(spec *FieldSpec, b []byte) any {
	r := mp.NewReader(b)
	var v any
	switch spec.Type {
	case TypeString, TypeText, TypeEnum, TypeRegion, TypeNode, TypeTags:
		v = r.String(MaxValueBytes)
	case TypeInt, TypeTime:
		v = r.Int()
	case TypePersons:
		v = readPersons(r)
	case TypeParty:
		v = readParty(r)
	case TypeNotes:
		v = readNote(r)
	case TypeFiles:
		v = readFile(r)
	default:
		v, _ = readWorkflowValue(r, spec.Type)
	}
	if r.Err() != nil || r.Remaining() != 0 {
		return Opaque(b)
	}
	return v
}

// Opaque is a value this version cannot interpret: kept and passed on byte for byte.
type Opaque []byte

func (o Opaque) String() string { return fmt.Sprintf("opaque(%d bytes)", len(o)) }

// MarshalJSON shows an opaque value as a marker with its size.
func (o Opaque) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"opaque_bytes":%d}`, len(o))), nil
}

func readPersons(r *mp.Reader) []Person {
	n := r.ArrayLen(1000)
	ps := make([]Person, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		m := r.ExpectArray(4, 32)
		p := Person{Name: r.String(1024), IDNumber: r.String(64), Phone: r.String(64), Address: r.String(4096)}
		for j := 4; j < m; j++ {
			r.Skip()
		}
		ps = append(ps, p)
	}
	return ps
}

func readParty(r *mp.Reader) Party {
	m := r.ExpectArray(6, 32)
	p := Party{Kind: r.String(16), Name: r.String(1024), Code: r.String(64), Address: r.String(4096), Region: r.String(16), Station: r.String(MaxIDLen)}
	for j := 6; j < m; j++ {
		r.Skip()
	}
	return p
}

func readNote(r *mp.Reader) Note {
	m := r.ExpectArray(3, 32)
	n := Note{Text: r.String(MaxValueBytes), Kind: r.String(32), At: r.Int()}
	for j := 3; j < m; j++ {
		r.Skip()
	}
	return n
}

func readFile(r *mp.Reader) File {
	m := r.ExpectArray(4, 32)
	f := File{Name: r.String(4096), SHA256: r.String(128), Size: r.Int(), MIME: r.String(256)}
	for j := 4; j < m; j++ {
		r.Skip()
	}
	return f
}
