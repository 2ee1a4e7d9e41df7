package chaos

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
	"github.com/fengqiao/fengqiao/node"
)

// Acked is one line of a writer's journal: an op the station's replica acknowledged (Write
// returned), written after it returned. A SIGKILL between the two loses the line, never an
// op the journal names.
type Acked struct {
	Case string `json:"case"`
	Node string `json:"node"`
	Inc  uint32 `json:"inc"`
	Seq  uint64 `json:"seq"`
	Kind string `json:"kind"`
}

// WriterConfig configures the random writer a chaos station runs beside its sync.
type WriterConfig struct {
	Replica *node.Replica
	// Journal is the file each acknowledged op is appended to. The writer stops writing
	// once Journal+".stop" exists (the controller's "stop writing" before it heals).
	Journal string
	// Rate is ops per second (on average; each wait is drawn at random). Default 4.
	Rate float64
	// Now is the station's clock (received_at of registrations); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Accuse is the id of the other station of this station's township: when set, about one
	// registration in ten is an accusation (检举控告) of the township's government, whose own
	// station is either that one or this one — so the rule that an accusation never reaches
	// the accused unit's stations is exercised in both of its forms (routed away from a
	// sibling; registered at the accused station itself, where only a stub stays).
	Accuse string
}

// AccusedMark separates an accusation's case id from the id of the station it accuses,
// which ends the case id: the check reads who is accused from the id alone.
const AccusedMark = "-acc-"

// AccusedStation returns the station an accusation written by a chaos writer accuses, or
// "" for any other case.
func AccusedStation(caseID string) string {
	if i := strings.LastIndex(caseID, AccusedMark); i >= 0 {
		return caseID[i+len(AccusedMark):]
	}
	return ""
}

// StopFile is the file whose existence stops a writer journalling into journal.
func StopFile(journal string) string { return journal + ".stop" }

// RunWriter writes random valid ops into the replica through node.Replica.Write — the
// path the station API's writes take — until ctx ends or the stop file appears: new
// registrations in the station's region, edits of a few fields and notes on cases the
// station holds (its own and those of other stations of its township, so that edits meet
// concurrently). Refused writes (a full disk, a closed store) are logged and skipped.
func RunWriter(ctx context.Context, cfg WriterConfig) error {
	if cfg.Rate <= 0 {
		cfg.Rate = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f, err := os.OpenFile(cfg.Journal, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chaos writer journal: %w", err)
	}
	defer f.Close()
	r := cfg.Replica
	villages := villagesOf(r.Region())
	if len(villages) == 0 {
		return fmt.Errorf("chaos writer: no village below region %q", r.Region())
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(r.Origin().Incarnation)))
	mean := time.Duration(float64(time.Second) / cfg.Rate)
	w := bufio.NewWriter(f)
	for n := 0; ; n++ {
		wait := time.Duration(rng.Int64N(int64(2*mean) + 1))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if _, err := os.Stat(StopFile(cfg.Journal)); err == nil {
			cfg.Logger.Info("chaos writer stopped by its stop file")
			<-ctx.Done()
			return nil
		}
		ch := randomChange(rng, r, villages, cfg.Now, n, cfg.Accuse)
		op, err := r.Write(ctx, ch)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, node.ErrClosed) {
				return nil
			}
			cfg.Logger.Warn("chaos write refused", "case", ch.Case, "kind", ch.Kind, "err", err)
			continue
		}
		line, _ := json.Marshal(Acked{Case: op.Case, Node: op.Dot.Origin.Node, Inc: op.Dot.Origin.Incarnation, Seq: op.Dot.Seq, Kind: string(op.Kind)})
		_, _ = w.Write(append(line, '\n'))
		if err := w.Flush(); err != nil { // to the page cache: a SIGKILL keeps it
			return fmt.Errorf("chaos writer journal: %w", err)
		}
	}
}

func villagesOf(region string) []string {
	var out []string
	switch len(region) {
	case 12:
		return []string{region}
	case 9:
		for _, v := range regions.Children(region) {
			out = append(out, v.Code)
		}
	}
	return out
}

var (
	categories = []string{"邻里纠纷", "土地承包", "劳资纠纷", "婚姻家庭", "征地拆迁", "环境污染"}
	units      = []string{"城关镇司法所", "县信访局", "镇综治中心", "县人社局", "村委会"}
	channels   = []string{"走访", "书信", "电话", "网络"}
	names      = []string{"张三", "李四", "王五", "赵六", "陈七", "刘八"}
)

// randomChange is a registration (one in four, or when the station holds no case yet; with
// sibling set, one registration in ten an accusation), or an edit or a note on a recent case
// of the station's view (never on the stub of an accusation of this station, which refuses
// writes).
func randomChange(rng *rand.Rand, r *node.Replica, villages []string, now func() time.Time, n int, sibling string) node.Change {
	author := fmt.Sprintf("chaos-%d", rng.IntN(5))
	self := r.Origin().Node
	var target string
	if rng.IntN(4) != 0 {
		if page, err := r.List(node.Query{Limit: 40}); err == nil && len(page.Cases) > 0 {
			if id := page.Cases[rng.IntN(len(page.Cases))].ID; AccusedStation(id) != self {
				target = id
			}
		}
	}
	if target == "" {
		id := fmt.Sprintf("%s-%08x-%d", self, r.Origin().Incarnation, n) + fmt.Sprintf("-%04x", rng.IntN(1<<16))
		ch := registration(rng, id, villages[rng.IntN(len(villages))], author, now().UnixMilli())
		if sibling != "" && rng.IntN(10) == 0 {
			accused := sibling
			if rng.IntN(2) == 0 {
				accused = self
			}
			ch = accusation(ch, id+AccusedMark+accused, r.Region(), accused)
		}
		return ch
	}
	switch rng.IntN(4) {
	case 0:
		return set(target, "category", categories[rng.IntN(len(categories))], author)
	case 1:
		return set(target, "handler_unit", units[rng.IntN(len(units))], author)
	case 2:
		return set(target, "channel", channels[rng.IntN(len(channels))], author)
	}
	b, _ := json.Marshal(cases.Note{Text: fmt.Sprintf("第%d次回访：当事人情绪平稳，已说明政策。", n)})
	return node.Change{Case: target, Kind: cases.KindNote, Author: author,
		Writes: []cases.LocalWrite{{Field: "notes", Action: cases.Append, JSON: b}}}
}

func set(id, field, value, author string) node.Change {
	return node.Change{Case: id, Kind: cases.KindEdit, Author: author,
		Writes: []cases.LocalWrite{{Field: field, Action: cases.Set, JSON: jsonString(value)}}}
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// registration is a valid registration of case id in village (what cases.Prepare takes).
func registration(rng *rand.Rand, id, village, author string, receivedAt int64) node.Change {
	persons, _ := json.Marshal([]cases.Person{{
		Name: names[rng.IntN(len(names))], IDNumber: residentID(village[:6], rng.IntN(100000)), Phone: fmt.Sprintf("138%08d", rng.IntN(1e8)),
	}})
	at := json.RawMessage(fmt.Sprint(receivedAt))
	return node.Change{Case: id, Kind: cases.KindRegister, Author: author, Writes: []cases.LocalWrite{
		{Field: "kind", Action: cases.Set, JSON: jsonString(cases.MatterPetition)},
		{Field: "region", Action: cases.Set, JSON: jsonString(village)},
		{Field: "petitioners", Action: cases.Set, JSON: persons},
		{Field: "summary", Action: cases.Set, JSON: jsonString("反映邻居建房占用公共通道影响出行，请求依法处理。")},
		{Field: "category", Action: cases.Set, JSON: jsonString(categories[rng.IntN(len(categories))])},
		{Field: "registered_at", Action: cases.Set, JSON: at},
		{Field: "received_at", Action: cases.Set, JSON: at},
	}}
}

// accusation turns registration reg into one of an accusation (检举控告) with id, accusing
// the government of township, whose own station is station.
func accusation(reg node.Change, id, township, station string) node.Change {
	name := township
	if d, ok := regions.Lookup(township); ok {
		name = d.Name
	}
	accused, _ := json.Marshal(cases.Party{Kind: "unit", Name: name + "人民政府", Region: township, Station: station})
	reg.Case = id
	reg.Writes = append(reg.Writes,
		cases.LocalWrite{Field: "matter_type", Action: cases.Set, JSON: jsonString("检举控告")},
		cases.LocalWrite{Field: "accused", Action: cases.Set, JSON: accused})
	return reg
}

// residentID is a valid 18-digit resident ID registered in county region6.
func residentID(region6 string, serial int) string {
	first17 := fmt.Sprintf("%s1980%02d%02d%03d", region6, 1+serial%12, 1+serial%28, serial%1000)
	c, ok := cases.ResidentIDCheck(first17)
	if !ok {
		panic("residentID: bad first 17 " + first17)
	}
	return first17 + string(c)
}
