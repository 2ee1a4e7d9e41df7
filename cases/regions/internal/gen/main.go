// Command gen converts the china-division CSV files (国家统计局 2023 statistical division codes)
// into the compact embedded form that package regions reads: data/divisions.bin.gz (provinces,
// cities, counties, townships) and data/villages.bin.gz (villages).
//
// Usage, from cases/regions (the CSV files are not committed, they are 6.6 MB):
//
//	DIVISIONS_SRC=/path/to/divisions-2023 go generate ./cases/regions
//
// The source directory holds provinces.csv, cities.csv, areas.csv, streets.csv and
// villages.csv.gz (or villages.csv), as described in data/README.md. The output is
// deterministic: the same input and Go version give the same bytes.
//
// # Format
//
// Each file is one gzip stream (no name, no mtime) holding:
//
//	"FQRG"                 magic
//	uvarint version        1
//	uvarint edition        2023
//	uvarint sections
//	sections × {
//	    byte    digits     2, 4, 6, 9 or 12 (the level)
//	    uvarint count
//	    uvarint nameBytes  total length of the names block
//	    count × uvarint    code − previous code (previous starts at 0; codes strictly increase)
//	    count × uvarint    name length in bytes
//	    nameBytes          the UTF-8 names, concatenated without separators
//	}
//
// Names last lets the reader copy them straight into one string of known size.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"unicode"
	"unicode/utf8"
)

const (
	formatVersion = 1
	edition       = 2023
)

type entry struct {
	code uint64
	name string
}

type level struct {
	file   string
	digits int
	parent int // digits of the parent level, 0 for provinces
	rows   []entry
}

func main() {
	src := flag.String("src", "", "directory with the china-division CSV files (required)")
	out := flag.String("out", "data", "output directory")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "gen: -src is required (set DIVISIONS_SRC for go generate); see data/README.md")
		os.Exit(2)
	}
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	levels := []*level{
		{file: "provinces.csv", digits: 2},
		{file: "cities.csv", digits: 4, parent: 2},
		{file: "areas.csv", digits: 6, parent: 4},
		{file: "streets.csv", digits: 9, parent: 6},
		{file: "villages.csv", digits: 12, parent: 9},
	}
	for i, l := range levels {
		rows, err := readLevel(src, l)
		if err != nil {
			return err
		}
		l.rows = rows
		if l.parent != 0 {
			if err := checkParents(l, levels[i-1]); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "gen: %s: %d rows\n", l.file, len(rows))
	}
	if err := write(filepath.Join(out, "divisions.bin.gz"), levels[:4]); err != nil {
		return err
	}
	return write(filepath.Join(out, "villages.bin.gz"), levels[4:])
}

func readLevel(src string, l *level) ([]entry, error) {
	f, err := os.Open(filepath.Join(src, l.file))
	var r io.Reader = f
	if errors.Is(err, os.ErrNotExist) && l.digits == 12 {
		f, err = os.Open(filepath.Join(src, l.file+".gz"))
		if err == nil {
			if r, err = gzip.NewReader(f); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s.gz: %w", l.file, err)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReader(r))
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.file, err)
	}
	if len(head) < 2 || head[0] != "code" || head[1] != "name" {
		return nil, fmt.Errorf("%s: header %q, want code,name and more", l.file, head)
	}
	var rows []entry
	var prev uint64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.file, err)
		}
		line, _ := cr.FieldPos(0)
		code, name := rec[0], rec[1]
		if len(code) != l.digits {
			return nil, fmt.Errorf("%s:%d: code %q is not %d digits", l.file, line, code, l.digits)
		}
		v, err := strconv.ParseUint(code, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: code %q is not digits", l.file, line, code)
		}
		if len(rows) > 0 && v <= prev {
			return nil, fmt.Errorf("%s:%d: code %s not after %d", l.file, line, code, prev)
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", l.file, line, code, err)
		}
		rows = append(rows, entry{code: v, name: name})
		prev = v
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", l.file)
	}
	return rows, nil
}

func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if !utf8.ValidString(name) {
		return errors.New("name is not UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("name %q contains %U", name, r)
		}
	}
	return nil
}

// checkParents verifies that every code's prefix is a code of the parent level, so that the
// reader can find children by code range.
func checkParents(l, parent *level) error {
	div := uint64(1)
	for range l.digits - parent.digits {
		div *= 10
	}
	j := 0
	for _, e := range l.rows {
		p := e.code / div
		for j < len(parent.rows) && parent.rows[j].code < p {
			j++
		}
		if j == len(parent.rows) || parent.rows[j].code != p {
			return fmt.Errorf("%s: %0*d has no parent %0*d in %s", l.file, l.digits, e.code, parent.digits, p, parent.file)
		}
	}
	return nil
}

func write(path string, levels []*level) error {
	var raw bytes.Buffer
	raw.WriteString("FQRG")
	putUvarint(&raw, formatVersion)
	putUvarint(&raw, edition)
	putUvarint(&raw, uint64(len(levels)))
	for _, l := range levels {
		raw.WriteByte(byte(l.digits))
		putUvarint(&raw, uint64(len(l.rows)))
		n := 0
		for _, e := range l.rows {
			n += len(e.name)
		}
		putUvarint(&raw, uint64(n))
		var prev uint64
		for _, e := range l.rows {
			putUvarint(&raw, e.code-prev)
			prev = e.code
		}
		for _, e := range l.rows {
			putUvarint(&raw, uint64(len(e.name)))
		}
		for _, e := range l.rows {
			raw.WriteString(e.name)
		}
	}
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gen: %s: %d bytes (%d uncompressed)\n", path, z.Len(), raw.Len())
	return nil
}

func putUvarint(b *bytes.Buffer, v uint64) {
	var buf [binary.MaxVarintLen64]byte
	b.Write(buf[:binary.PutUvarint(buf[:], v)])
}
