// Package regions holds the 2023 statistical division codes of mainland China (国家统计局
// 《2023年统计用区划代码和城乡划分代码》) for validating region codes, showing their names and
// letting a user pick a township or village, offline.
//
// A code names one region at one of five levels, told apart by its length:
//
//	42           Province  湖北省
//	4203         City      十堰市
//	420323       County    竹山县        (GB/T 2260)
//	420323103    Township  宝丰镇        (GB/T 10114: 001–099 街道, 100–199 镇, 200–399 乡)
//	420323103201 Village   …村委会       (statistics bureau: 001–199 居委会, 200–399 村委会)
//
// The code of a region starts with the code of each region above it. Codes are given without
// padding: the county code is "420323", not "420323000000".
//
// Codes change every year (villages merge, counties become districts), so a stored code should
// be kept together with Edition; a code that is not Known in this edition may have been valid in
// an earlier one.
//
// # Memory
//
// The data is embedded compressed (3.4 MB) and decoded on first use: provinces to townships
// (45k regions: 0.9 MB of heap, ~5 ms) on the first call of any function; village codes
// (620k: 1.4 MB) on the first call that needs a village; village names (14.8 MB, ~60–80 ms
// on one server core) only on the first call that needs a village's name (Lookup, Path,
// FullName, Children). Known never loads names, so validating a form costs 2.3 MB.
// Codes are kept as sorted integers and names as substrings of one string, so Lookup and Known
// do not allocate, and Path and FullName allocate only their result. All functions are safe
// for concurrent use.
//
// The package is pure: no I/O, no goroutines, no clock.
package regions

//go:generate go run ./internal/gen -src $DIVISIONS_SRC -out data

import (
	"slices"
	"strconv"
	"strings"
)

// Edition is the year of the statistics bureau's division codes this package holds.
const Edition = 2023

// Level is the administrative level of a region, implied by the length of its code.
type Level int

// The levels, from the top. The zero Level is not a level.
const (
	Province Level = iota + 1 // 省级, 2 digits
	City                      // 地级, 4 digits
	County                    // 县级, 6 digits
	Township                  // 乡级 (乡、镇、街道), 9 digits
	Village                   // 村级 (村委会、居委会), 12 digits
)

var levelDigits = [...]int{Province: 2, City: 4, County: 6, Township: 9, Village: 12}

// Digits returns the length of a code of level l, or 0 if l is not a level.
func (l Level) Digits() int {
	if l < Province || l > Village {
		return 0
	}
	return levelDigits[l]
}

func (l Level) String() string {
	switch l {
	case Province:
		return "province"
	case City:
		return "city"
	case County:
		return "county"
	case Township:
		return "township"
	case Village:
		return "village"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// LevelOf returns the level a code of this form would have: all ASCII digits, and 2, 4, 6, 9
// or 12 of them. It does not say whether the region exists; see Known.
func LevelOf(code string) (Level, bool) {
	l, _, ok := parse(code)
	return l, ok
}

// Region is one division. Code and Name are never empty for a region returned by this package.
type Region struct {
	Code  string // 2, 4, 6, 9 or 12 digits
	Name  string // as the statistics bureau writes it, e.g. "竹山县", "城关镇", "市辖区"
	Level Level
}

// Lookup returns the region with this code. It reports false for a code of the wrong form
// (see LevelOf) and for a code that is not in this edition. The returned Code is code itself.
func Lookup(code string) (Region, bool) {
	l, v, ok := parse(code)
	if !ok {
		return Region{}, false
	}
	name, ok := lookup(l, v)
	if !ok {
		return Region{}, false
	}
	return Region{Code: code, Name: name, Level: l}, true
}

// Known reports whether code is a region of this edition.
func Known(code string) bool {
	l, v, ok := parse(code)
	if !ok {
		return false
	}
	_, ok = find(l, v, false)
	return ok
}

// Children returns the regions directly below code, in code order: the cities of a province,
// the counties of a city, the townships of a county, the villages of a township. Children("")
// returns the provinces. It returns nil for a village and for a code that is not Known. The
// caller owns the returned slice.
func Children(code string) []Region {
	if code == "" {
		t := &base().levels[Province-1]
		return t.regions(0, len(t.codes), Province)
	}
	l, v, ok := parse(code)
	if !ok || l == Village {
		return nil
	}
	if _, ok := lookup(l, v); !ok {
		return nil
	}
	child := l + 1
	if child == Village {
		d := base()
		k, _ := slices.BinarySearch(d.levels[Township-1].codes, uint32(v))
		vs := villages()
		return vs.regions(int(vs.first[k]), int(vs.first[k+1]), v)
	}
	t := &base().levels[child-1]
	scale := pow10[child.Digits()-l.Digits()]
	lo, _ := slices.BinarySearch(t.codes, uint32(v*scale))
	hi, _ := slices.BinarySearch(t.codes, uint32((v+1)*scale))
	return t.regions(lo, hi, child)
}

// Path returns the regions from the province down to code: the province, city, county,
// township and village whose codes are prefixes of code, as far as they exist in this edition.
// For "420323103201" it has five elements if the village exists, four if only the township
// does, and so on; it is nil for a code of the wrong form or an unknown province. Path does not
// decode the villages unless code is a village code.
func Path(code string) []Region {
	l, _, ok := parse(code)
	if !ok {
		return nil
	}
	var path []Region
	for lv := Province; lv <= l; lv++ {
		r, ok := Lookup(code[:lv.Digits()])
		if !ok {
			break
		}
		if path == nil {
			path = make([]Region, 0, l)
		}
		path = append(path, r)
	}
	return path
}

// FullName returns the names of Path(code) joined, as on an envelope:
// "湖北省十堰市竹山县宝丰镇…". Placeholder city-level names that are not places ("市辖区",
// "县", "省直辖县级行政区划", "自治区直辖县级行政区划") are left out, and so is a name equal to
// the one above it (东莞市 is both the city 4419 and the county 441900). FullName returns "" if
// code is not Known.
func FullName(code string) string {
	path := Path(code)
	if len(path) == 0 || path[len(path)-1].Code != code {
		return ""
	}
	n := 0
	for _, r := range path {
		n += len(r.Name)
	}
	var b strings.Builder
	b.Grow(n)
	prev := ""
	for _, r := range path {
		if r.Name == prev || (r.Level == City && placeholder(r.Name)) {
			continue
		}
		b.WriteString(r.Name)
		prev = r.Name
	}
	return b.String()
}

func placeholder(name string) bool {
	switch name {
	case "市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划":
		return true
	}
	return false
}

var pow10 = [...]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000, 10000000000, 100000000000, 1000000000000}

// parse returns the level and value of a well-formed code.
func parse(code string) (Level, uint64, bool) {
	var l Level
	switch len(code) {
	case 2:
		l = Province
	case 4:
		l = City
	case 6:
		l = County
	case 9:
		l = Township
	case 12:
		l = Village
	default:
		return 0, 0, false
	}
	var v uint64
	for i := 0; i < len(code); i++ {
		c := code[i]
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return l, v, true
}

// lookup returns the name of the region of level l with code value v.
func lookup(l Level, v uint64) (string, bool) { return find(l, v, true) }

// find looks code value v of level l up, and its name when withName: villages' names are a
// separate table (16 MiB of heap) that validation, which needs only the codes, never loads.
func find(l Level, v uint64, withName bool) (string, bool) {
	d := base()
	if l != Village {
		t := &d.levels[l-1]
		i, ok := slices.BinarySearch(t.codes, uint32(v))
		if !ok || !withName {
			return "", ok
		}
		return t.name(i), true
	}
	k, ok := slices.BinarySearch(d.levels[Township-1].codes, uint32(v/1000))
	if !ok {
		return "", false
	}
	vs := villages()
	lo, hi := int(vs.first[k]), int(vs.first[k+1])
	i, ok := slices.BinarySearch(vs.suffix[lo:hi], uint16(v%1000))
	if !ok || !withName {
		return "", ok
	}
	return vs.name(lo + i), true
}
