package regions

import (
	"bytes"
	"compress/gzip"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The row counts of the 2023 source files (data/README.md).
const (
	nProvinces = 31
	nCities    = 342
	nCounties  = 2978
	nTowns     = 41352
	nVillages  = 620573
)

func TestLookup_Known(t *testing.T) {
	for _, tc := range []struct {
		code, name string
		level      Level
	}{
		{"42", "湖北省", Province},
		{"4203", "十堰市", City},
		{"420323", "竹山县", County},
		{"420323100", "城关镇", Township},
		{"420323103", "宝丰镇", Township},
		{"420323207", "柳林乡", Township},
		{"420323100001", "北大街社区居民委员会", Village},
		{"420323103201", "候家湾村委会", Village},
		{"371311", "罗庄区", County},
		{"320412", "武进区", County},
		{"11", "北京市", Province},
		{"1101", "市辖区", City},
		{"110101001001", "多福巷社区居委会", Village}, // the first village
		{"659012505508", "八连生活区", Village},    // the last village
		{"4690", "省直辖县级行政区划", City},
		{"441900", "东莞市", County},
		{"350527000000", "金门县", Village},
	} {
		r, ok := Lookup(tc.code)
		if want := (Region{Code: tc.code, Name: tc.name, Level: tc.level}); !ok || r != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v, true", tc.code, r, ok, want)
		}
		if !Known(tc.code) {
			t.Errorf("Known(%q) = false", tc.code)
		}
		if l, ok := LevelOf(tc.code); !ok || l != tc.level {
			t.Errorf("LevelOf(%q) = %v, %v", tc.code, l, ok)
		}
	}
}

func TestLookup_Unknown(t *testing.T) {
	for _, code := range []string{
		"99", "00", "71", "81", // no such province (Taiwan, Hong Kong are not in the data)
		"4299", "4200",
		"420399", "420300", // 420300 is the GB/T 2260 form of the city, not a county
		"420323999", "420323000",
		"420323103999", "420323103000",
		"420323999001", // village of a township that does not exist
		"999999999999", "000000000000",
		"429999999999",
	} {
		if r, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) = %+v, true; want false", code, r)
		}
		if Known(code) {
			t.Errorf("Known(%q) = true", code)
		}
		if _, ok := LevelOf(code); !ok {
			t.Errorf("LevelOf(%q) = false, want the level of a well-formed code", code)
		}
	}
}

func TestLookup_BadForm(t *testing.T) {
	for _, code := range []string{
		"", "4", "420", "42032", "4203231", "42032310", "4203231032", "42032310320",
		"4203231032011", "42032310320100",
		"4a", "42a3", " 42", "42 ", "+42", "-4", "4.", "４２", "42\x00", "42032３",
		"420323\n", "4203231032O1",
	} {
		if r, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) = %+v, true; want false", code, r)
		}
		if Known(code) {
			t.Errorf("Known(%q) = true", code)
		}
		if l, ok := LevelOf(code); ok {
			t.Errorf("LevelOf(%q) = %v, true; want false", code, l)
		}
		if p := Path(code); p != nil {
			t.Errorf("Path(%q) = %v, want nil", code, p)
		}
		if c := Children(code); c != nil && code != "" {
			t.Errorf("Children(%q) = %v, want nil", code, c)
		}
	}
}

func TestChildren_County(t *testing.T) {
	got := Children("420323")
	want := []string{
		"420323100 城关镇", "420323101 溢水镇", "420323102 麻家渡镇", "420323103 宝丰镇",
		"420323104 擂鼓镇", "420323105 秦古镇", "420323106 得胜镇", "420323107 上庸镇",
		"420323108 官渡镇", "420323200 潘口乡", "420323201 竹坪乡", "420323202 大庙乡",
		"420323203 双台乡", "420323204 楼台乡", "420323205 文峰乡", "420323206 深河乡",
		"420323207 柳林乡",
	}
	var gotS []string
	for _, r := range got {
		if r.Level != Township {
			t.Errorf("%+v: level %v, want township", r, r.Level)
		}
		gotS = append(gotS, r.Code+" "+r.Name)
	}
	if !slices.Equal(gotS, want) {
		t.Errorf("Children(420323) =\n%q\nwant\n%q", gotS, want)
	}
}

func TestChildren_Levels(t *testing.T) {
	for _, tc := range []struct {
		code       string
		n          int
		first      Region
		firstLevel Level
	}{
		{"", nProvinces, Region{"11", "北京市", Province}, Province},
		{"42", 14, Region{"4201", "武汉市", City}, City},
		{"4203", 8, Region{"420302", "茅箭区", County}, County},
		{"420323103", 29, Region{"420323103001", "施洋路社区居民委员会", Village}, Village},
		{"4419", 1, Region{"441900", "东莞市", County}, County},
	} {
		got := Children(tc.code)
		if len(got) != tc.n || got[0] != tc.first {
			t.Errorf("Children(%q): %d regions starting %+v; want %d starting %+v", tc.code, len(got), got[0], tc.n, tc.first)
		}
	}
	for _, code := range []string{"420323103201", "99", "4299", "420399", "420323999", "420323103999"} {
		if got := Children(code); got != nil {
			t.Errorf("Children(%q) = %v, want nil", code, got)
		}
	}
}

// TestWalk visits every region through Children and checks the counts, the order, that each
// child's code extends its parent's, and that Lookup agrees.
func TestWalk(t *testing.T) {
	counts := map[Level]int{}
	var walk func(parent Region)
	walk = func(parent Region) {
		kids := Children(parent.Code)
		if parent.Level == Village {
			if kids != nil {
				t.Fatalf("village %s has children", parent.Code)
			}
			return
		}
		if len(kids) == 0 {
			t.Fatalf("%s %s has no children", parent.Code, parent.Name)
		}
		for i, k := range kids {
			counts[k.Level]++
			if k.Level != parent.Level+1 || !strings.HasPrefix(k.Code, parent.Code) || len(k.Code) != k.Level.Digits() {
				t.Fatalf("child %+v of %+v", k, parent)
			}
			if i > 0 && kids[i-1].Code >= k.Code {
				t.Fatalf("children of %s out of order: %s, %s", parent.Code, kids[i-1].Code, k.Code)
			}
			if r, ok := Lookup(k.Code); !ok || r != k || k.Name == "" {
				t.Fatalf("Lookup(%s) = %+v, %v; Children gave %+v", k.Code, r, ok, k)
			}
			walk(k)
		}
	}
	walk(Region{})
	want := map[Level]int{Province: nProvinces, City: nCities, County: nCounties, Township: nTowns, Village: nVillages}
	for l, n := range want {
		if counts[l] != n {
			t.Errorf("%d regions of level %v, want %d", counts[l], l, n)
		}
	}
}

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		code string
		want []string
	}{
		{"420323103201", []string{"42 湖北省", "4203 十堰市", "420323 竹山县", "420323103 宝丰镇", "420323103201 候家湾村委会"}},
		{"420323103999", []string{"42 湖北省", "4203 十堰市", "420323 竹山县", "420323103 宝丰镇"}},
		{"420323999001", []string{"42 湖北省", "4203 十堰市", "420323 竹山县"}},
		{"4203", []string{"42 湖北省", "4203 十堰市"}},
		{"42", []string{"42 湖北省"}},
		{"990323103201", nil},
	} {
		var got []string
		for i, r := range Path(tc.code) {
			if r.Level != Level(i+1) {
				t.Errorf("Path(%q)[%d].Level = %v", tc.code, i, r.Level)
			}
			got = append(got, r.Code+" "+r.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Path(%q) = %q, want %q", tc.code, got, tc.want)
		}
	}
}

func TestFullName(t *testing.T) {
	for code, want := range map[string]string{
		"420323103201": "湖北省十堰市竹山县宝丰镇候家湾村委会",
		"420323103":    "湖北省十堰市竹山县宝丰镇",
		"42":           "湖北省",
		"110101001001": "北京市东城区东华门街道多福巷社区居委会", // 市辖区 left out
		"441900003":    "广东省东莞市东城街道",          // 东莞市 not twice
		"469001":       "海南省五指山市",             // 省直辖县级行政区划 left out
		"500229":       "重庆市城口县",              // 县 left out
		"350527000000": "福建省泉州市金门县",
		"420323103999": "",
		"4203231032":   "",
	} {
		if got := FullName(code); got != want {
			t.Errorf("FullName(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestLevel(t *testing.T) {
	for l, want := range map[Level]string{Province: "province", City: "city", County: "county", Township: "township", Village: "village", 0: "Level(0)", 6: "Level(6)"} {
		if got := l.String(); got != want {
			t.Errorf("Level(%d).String() = %q, want %q", int(l), got, want)
		}
	}
	if Level(0).Digits() != 0 || Village.Digits() != 12 || Township.Digits() != 9 {
		t.Error("Digits")
	}
}

func TestNoAllocs(t *testing.T) {
	Known("420323103201") // load everything first
	for _, code := range []string{"42", "420323", "420323103", "420323103201", "420323103999", "bad"} {
		if n := testing.AllocsPerRun(100, func() { Lookup(code); Known(code) }); n != 0 {
			t.Errorf("Lookup/Known(%q): %v allocs, want 0", code, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Path("420323103201") }); n != 1 {
		t.Errorf("Path: %v allocs, want 1", n)
	}
}

func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if r, ok := Lookup("420323103201"); !ok || r.Name != "候家湾村委会" {
				t.Errorf("Lookup = %+v, %v", r, ok)
			}
			if len(Children("420323")) != 17 {
				t.Error("Children(420323)")
			}
		})
	}
	wg.Wait()
}

func TestDecode_Corrupt(t *testing.T) {
	b, err := decodeBase(divisionsGz)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(villagesGz)
	flipped[len(flipped)/2] ^= 0x40
	for name, gz := range map[string][]byte{
		"truncated": villagesGz[:len(villagesGz)-100],
		"flipped":   flipped,
		"empty":     nil,
		"wrongfile": divisionsGz, // 4 sections, villages wants 1
	} {
		if _, err := decodeVillages(gz, b); err == nil {
			t.Errorf("%s: decodeVillages succeeded", name)
		}
	}
	// A well-formed stream with trailing bytes after the last section.
	zr, err := gzip.NewReader(bytes.NewReader(divisionsGz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(append(raw, 0))
	zw.Close()
	if _, err := decodeBase(z.Bytes()); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("trailing byte: err = %v", err)
	}
}

// TestFootprint decodes fresh copies of both tables and reports the heap they keep and the time
// they take; the first Lookup of a village costs about the sum. Run with -v to see the figures.
func TestFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 14 MB")
	}
	var before, mid, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	b, err := decodeBase(divisionsGz)
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	runtime.GC()
	runtime.ReadMemStats(&mid)
	t2 := time.Now()
	v, err := decodeVillages(villagesGz, b)
	if err != nil {
		t.Fatal(err)
	}
	t3 := time.Now()
	runtime.GC()
	runtime.ReadMemStats(&after)
	baseHeap := int64(mid.HeapAlloc) - int64(before.HeapAlloc)
	villHeap := int64(after.HeapAlloc) - int64(mid.HeapAlloc)
	t.Logf("divisions: %.2f MB heap, %v; villages: %.2f MB heap, %v; total %.2f MB; embedded %.2f MB",
		float64(baseHeap)/1e6, t1.Sub(t0).Round(time.Millisecond), float64(villHeap)/1e6, t3.Sub(t2).Round(time.Millisecond),
		float64(baseHeap+villHeap)/1e6, float64(len(divisionsGz)+len(villagesGz))/1e6)
	if total := baseHeap + villHeap; total > 30<<20 {
		t.Errorf("decoded data keeps %d bytes of heap, want < 30 MiB", total)
	}
	runtime.KeepAlive(b)
	runtime.KeepAlive(v)
}

var sink Region

func BenchmarkLookup(b *testing.B) {
	Known("420323103201")
	for _, code := range []string{"42", "420323", "420323103", "420323103201", "659012505508", "420323103999"} {
		l, _ := LevelOf(code)
		b.Run("level="+l.String()+"/code="+code, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink, _ = Lookup(code)
			}
		})
	}
}

func BenchmarkChildren(b *testing.B) {
	Known("420323103201")
	for _, code := range []string{"", "420323", "420323103"} {
		b.Run("code="+code, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Children(code)
			}
		})
	}
}

func BenchmarkFullName(b *testing.B) {
	Known("420323103201")
	b.ReportAllocs()
	for b.Loop() {
		FullName("420323103201")
	}
}

func BenchmarkDecode(b *testing.B) {
	base, err := decodeBase(divisionsGz)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("file=divisions", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeBase(divisionsGz)
		}
	})
	b.Run("file=villages", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeVillages(villagesGz, base)
		}
	})
}
