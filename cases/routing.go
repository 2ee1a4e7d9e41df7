package cases

import (
	"fmt"
	"slices"
	"strings"
)

// Routing rules (DOMAIN.md §1.2, §5). Jurisdiction is a division-code prefix: an organ of
// region R is competent for the cases whose region starts with R. Items go to the same or a
// lower tier. An accusation (检举控告) never reaches the person or unit accused (R22 Art
// 30(3), 46(5)), which overrides jurisdiction; a person with an interest in the matter never
// handles it (回避, Art 28(3)).

// Accusation rules' basis.
const ruleAccused = "R22 Art 30(3), 46(5)"

// Accused returns every visible value of c's accused party (被检举控告对象): one normally, more
// while edits of it are in conflict, when each counts.
func Accused(c *Case) []Party {
	r := c.Registers["accused"]
	if r == nil {
		return nil
	}
	var out []Party
	for _, w := range r.Values() {
		if p, ok := DecodeValue("accused", w.Value).(Party); ok && strings.TrimSpace(p.Name) != "" {
			out = append(out, p)
		}
	}
	return out
}

// IsAccusation reports whether c is an accusation: its matter type is 检举控告, or it names
// an accused party.
func IsAccusation(c *Case) bool {
	return slices.Contains(c.Strings("matter_type"), "检举控告") || len(Accused(c)) > 0
}

// ExcludedScopes returns what the accused of c are, as a replica's scopes know them: the
// stations (by id) and the regions (division codes of the accused units' own stations) an
// accusation must never be indexed into. Nil for any case that accuses no one.
func ExcludedScopes(c *Case) (stations, regions []string) {
	for _, p := range Accused(c) {
		if p.Station != "" && !slices.Contains(stations, p.Station) {
			stations = append(stations, p.Station)
		}
		if p.Region != "" && !slices.Contains(regions, p.Region) {
			regions = append(regions, p.Region)
		}
	}
	return stations, regions
}

// AccusedAt reports whether node is the own station of a unit c accuses (the accused
// party's station). Only the station named is: a hub serving the accused unit's region also
// serves the organs that handle accusations.
func AccusedAt(c *Case, node string) bool {
	for _, p := range Accused(c) {
		if p.Station != "" && p.Station == node {
			return true
		}
	}
	return false
}

// CheckNotAccused refuses to route, assign or hand c to the accused: a receiving unit of the
// accused's name, the accused unit's station, or a unit in the region of its station.
func CheckNotAccused(c *Case, unit, station, region string) *FieldError {
	unit = strings.TrimSpace(unit)
	for _, p := range Accused(c) {
		field := ""
		switch {
		case unit != "" && unit == strings.TrimSpace(p.Name):
			field = "handler_unit"
		case station != "" && station == p.Station:
			field = "assignee"
		case region != "" && region == p.Region:
			field = "handler_region"
		}
		if field != "" {
			e := fieldErr(field, "accused_unit", "检举控告材料及有关情况不得转给被检举控告的人员或单位", "an accusation may not be sent to the person or unit it accuses")
			e.Rule = ruleAccused
			return e
		}
	}
	return nil
}

// CheckNotRecused refuses handler for c when the handler must recuse themselves (回避).
func CheckNotRecused(c *Case, handler string) *FieldError {
	if s := c.Sets["recused"]; s != nil {
		for _, e := range s.Elems() {
			if v, _ := DecodeValue("recused", []byte(e)).(string); v == strings.TrimSpace(handler) {
				fe := fieldErr("handler", "recused", "该人员与信访事项或信访人有利害关系，应当回避", "this person has an interest in the matter and must recuse themselves")
				fe.Rule = "R22 Art 28(3)"
				return fe
			}
		}
	}
	return nil
}

// tierName names a tier by the length of its division code.
func tierName(code string) string {
	switch len(code) {
	case 2:
		return "省级"
	case 4:
		return "市级"
	case 6:
		return "县级"
	case 9:
		return "乡级"
	case 12:
		return "村级"
	}
	return fmt.Sprintf("%d 位区划", len(code))
}

// CheckRouteTier checks forwarding (转送) or assigning (交办) by an organ of region actor to
// an organ of region target: the same or a lower tier only; an assignment within the
// actor's own jurisdiction; a forward to an organ competent for the case's region (any one
// of caseRegions while the region is in conflict). An empty actor is a node above the
// provinces, for which only competence is checked.
func CheckRouteTier(to State, actor string, caseRegions []string, target string) *FieldError {
	refuse := func(code, zh, en string) *FieldError {
		e := fieldErr("handler_region", code, zh, en)
		e.Rule = "R22 Art 5(3), 22"
		return e
	}
	if actor != "" && len(target) < len(actor) {
		return refuse("higher_tier", fmt.Sprintf("只能转送、交办到本级或下级（本级为%s，对方为%s）", tierName(actor), tierName(target)),
			"items are forwarded and assigned to the same or a lower tier only")
	}
	if to == Assigned && actor != "" && !strings.HasPrefix(target, actor) {
		return refuse("out_of_jurisdiction", "只能交办给本辖区内的单位", "an item is assigned only within the assigning organ's jurisdiction")
	}
	if to == Forwarded && len(caseRegions) > 0 && !slices.ContainsFunc(caseRegions, func(r string) bool { return strings.HasPrefix(r, target) }) {
		return refuse("not_competent", "接收单位对该事项所在区划没有管辖权（属地管理）", "the receiving organ has no jurisdiction over the case's region")
	}
	return nil
}

// CheckJurisdiction refuses a registration at a node of region node for a case in region
// region outside it: jurisdiction is the division-code prefix.
func CheckJurisdiction(node, region string) *FieldError {
	if node != "" && !strings.HasPrefix(region, node) {
		e := fieldErr("region", "out_of_jurisdiction", "该区划不在本站辖区内", "the region is outside this node's jurisdiction")
		e.Rule = "R22 Art 5(3)"
		return e
	}
	return nil
}
