package regions

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// The embedded data, written by internal/gen; its format is described there.
var (
	//go:embed data/divisions.bin.gz
	divisionsGz []byte
	//go:embed data/villages.bin.gz
	villagesGz []byte
)

// names is a list of names stored as one string: name i is s[ends[i-1]:ends[i]] (from 0 for i
// = 0), so that a name costs 4 bytes of index beside its text and no string header.
type names struct {
	s    string
	ends []uint32
}

func (n *names) name(i int) string {
	start := uint32(0)
	if i > 0 {
		start = n.ends[i-1]
	}
	return n.s[start:n.ends[i]]
}

// table is one level above the villages: sorted codes and their names.
type table struct {
	names
	codes []uint32
}

// regions returns the regions i in [lo, hi) of t, which has level l. The codes of all of them
// share one allocation.
func (t *table) regions(lo, hi int, l Level) []Region {
	if lo >= hi {
		return nil
	}
	codes := formatCodes(l.Digits(), t.codes[lo:hi], func(c uint32) uint64 { return uint64(c) })
	out := make([]Region, hi-lo)
	w := l.Digits()
	for i := range out {
		out[i] = Region{Code: codes[i*w : (i+1)*w], Name: t.name(lo + i), Level: l}
	}
	return out
}

// villageTable holds the villages in code order. Those of township k (the k-th code of the
// township table) are [first[k], first[k+1]), and suffix holds the last three digits of each
// village code: 2 bytes a village instead of 8.
//
// Village names (12 MB of the 16 MB the villages take) are decoded on first use, apart from
// the codes: validating a region code, which every registration does, needs only the codes.
type villageTable struct {
	first  []uint32 // len = number of townships + 1
	suffix []uint16
}

func (vt *villageTable) name(i int) string {
	n := villageNames()
	return n.name(i)
}

// regions returns the villages i in [lo, hi), which belong to the township with code value
// township.
func (vt *villageTable) regions(lo, hi int, township uint64) []Region {
	if lo >= hi {
		return nil
	}
	codes := formatCodes(12, vt.suffix[lo:hi], func(s uint16) uint64 { return township*1000 + uint64(s) })
	out := make([]Region, hi-lo)
	for i := range out {
		out[i] = Region{Code: codes[i*12 : (i+1)*12], Name: vt.name(lo + i), Level: Village}
	}
	return out
}

// formatCodes writes the codes of vals, each zero-padded to width digits, into one string.
func formatCodes[T any](width int, vals []T, code func(T) uint64) string {
	var b strings.Builder
	b.Grow(width * len(vals))
	var buf [20]byte
	for _, x := range vals {
		v := code(x)
		for i := width - 1; i >= 0; i-- {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
		b.Write(buf[:width])
	}
	return b.String()
}

// baseData holds provinces, cities, counties and townships: levels[l-1] is level l.
type baseData struct {
	levels [Township]table
}

var (
	base         = sync.OnceValue(func() *baseData { return mustDecodeBase(divisionsGz) })
	villages     = sync.OnceValue(func() *villageTable { return mustDecodeVillages(villagesGz, base()) })
	villageNames = sync.OnceValue(func() *names {
		n, err := decodeVillageNames(villagesGz, base())
		if err != nil {
			panic("regions: embedded villages: " + err.Error())
		}
		return n
	})
)

// The embedded data is written and checked by internal/gen and by the tests; if it does not
// decode, the binary was built wrong, so the decoders panic.

func mustDecodeBase(gz []byte) *baseData {
	d, err := decodeBase(gz)
	if err != nil {
		panic("regions: embedded divisions: " + err.Error())
	}
	return d
}

func mustDecodeVillages(gz []byte, b *baseData) *villageTable {
	v, err := decodeVillages(gz, b)
	if err != nil {
		panic("regions: embedded villages: " + err.Error())
	}
	return v
}

func decodeBase(gz []byte) (*baseData, error) {
	r, err := newReader(gz, 4)
	if err != nil {
		return nil, err
	}
	d := new(baseData)
	for l := Province; l <= Township; l++ {
		var codes []uint32
		n, err := r.section(l, func(n int) { codes = make([]uint32, 0, n) }, func(c uint64) error {
			if c >= 1<<32 {
				return fmt.Errorf("code %d too large", c)
			}
			codes = append(codes, uint32(c))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l, err)
		}
		d.levels[l-1] = table{names: n, codes: codes}
	}
	return d, r.end()
}

// decodeVillages decodes the village codes (not their names).
func decodeVillages(gz []byte, b *baseData) (*villageTable, error) {
	vt, _, err := decodeVillageFile(gz, b, false)
	return vt, err
}

// decodeVillageNames decodes the villages again, keeping only their names.
func decodeVillageNames(gz []byte, b *baseData) (*names, error) {
	_, n, err := decodeVillageFile(gz, b, true)
	return n, err
}

// decodeVillageFile decodes the village codes, or with withNames their names.
func decodeVillageFile(gz []byte, b *baseData, withNames bool) (*villageTable, *names, error) {
	r, err := newReader(gz, 1)
	if err != nil {
		return nil, nil, err
	}
	r.skipNames = !withNames
	towns := b.levels[Township-1].codes
	vt := &villageTable{first: make([]uint32, len(towns)+1)}
	k := 0 // the township of the current village
	n, err := r.section(Village, func(n int) { vt.suffix = make([]uint16, 0, n) }, func(c uint64) error {
		t := c / 1000
		for k < len(towns) && uint64(towns[k]) < t {
			k++
			vt.first[k] = uint32(len(vt.suffix))
		}
		if k == len(towns) || uint64(towns[k]) != t {
			return fmt.Errorf("village %012d: no township %09d", c, t)
		}
		vt.suffix = append(vt.suffix, uint16(c%1000))
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("villages: %w", err)
	}
	for k < len(towns) {
		k++
		vt.first[k] = uint32(len(vt.suffix))
	}
	if withNames {
		vt = nil // the caller wants the names only
	}
	return vt, &n, r.end()
}

// reader decodes the sections of one embedded file.
type reader struct {
	br        *bufio.Reader
	zr        *gzip.Reader
	skipNames bool // read past the names instead of keeping them
}

func newReader(gz []byte, sections uint64) (*reader, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	r := &reader{br: bufio.NewReaderSize(zr, 64<<10), zr: zr}
	var magic [4]byte
	if _, err := io.ReadFull(r.br, magic[:]); err != nil || string(magic[:]) != "FQRG" {
		return nil, errors.New("bad magic")
	}
	for _, want := range []uint64{1, Edition, sections} {
		if got, err := binary.ReadUvarint(r.br); err != nil || got != want {
			return nil, fmt.Errorf("bad header: %d, want %d (%v)", got, want, err)
		}
	}
	return r, nil
}

// section reads a section of level l: it calls alloc with the count, then add with each code in
// order, and returns the names.
func (r *reader) section(l Level, alloc func(n int), add func(code uint64) error) (names, error) {
	digits, err := r.br.ReadByte()
	if err != nil || int(digits) != l.Digits() {
		return names{}, fmt.Errorf("section of %d digits, want %d (%v)", digits, l.Digits(), err)
	}
	count, err := binary.ReadUvarint(r.br)
	if err != nil || count > 1<<24 {
		return names{}, fmt.Errorf("bad count %d (%v)", count, err)
	}
	size, err := binary.ReadUvarint(r.br)
	if err != nil || size > 1<<28 {
		return names{}, fmt.Errorf("bad names size %d (%v)", size, err)
	}
	alloc(int(count))
	limit := pow10[l.Digits()]
	var code uint64
	for i := range count {
		delta, err := binary.ReadUvarint(r.br)
		if err != nil || (delta == 0 && i > 0) || delta >= limit-code {
			return names{}, fmt.Errorf("bad code delta %d after %d (%v)", delta, code, err)
		}
		code += delta
		if err := add(code); err != nil {
			return names{}, err
		}
	}
	var n names
	if !r.skipNames {
		n.ends = make([]uint32, count)
	}
	var end uint64
	for i := range count {
		ln, err := binary.ReadUvarint(r.br)
		if err != nil || ln == 0 || end+ln > size {
			return names{}, fmt.Errorf("bad name length %d (%v)", ln, err)
		}
		end += ln
		if !r.skipNames {
			n.ends[i] = uint32(end)
		}
	}
	if end != size {
		return names{}, fmt.Errorf("names total %d, header says %d", end, size)
	}
	if r.skipNames {
		if _, err := io.CopyN(io.Discard, r.br, int64(size)); err != nil {
			return names{}, fmt.Errorf("names: %w", err)
		}
		return n, nil
	}
	var b strings.Builder
	b.Grow(int(size))
	if _, err := io.CopyN(&b, r.br, int64(size)); err != nil {
		return names{}, fmt.Errorf("names: %w", err)
	}
	n.s = b.String()
	return n, nil
}

// end checks that the file has nothing after the last section and that its checksum holds.
func (r *reader) end() error {
	if _, err := r.br.ReadByte(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data")
		}
		return err
	}
	return r.zr.Close()
}
