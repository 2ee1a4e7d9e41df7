package crdt_test

import (
	"github.com/fengqiao/fengqiao/crdt"
)

// org returns the first incarnation of node.
func org(node string) crdt.Origin { return crdt.Origin{Node: node, Incarnation: 1} }

// dot returns the dot of op seq at node's first incarnation.
func dot(node string, seq uint64) crdt.Dot { return crdt.Dot{Origin: org(node), Seq: seq} }

// ts returns a timestamp.
func ts(wall int64, logical uint32) crdt.Timestamp {
	return crdt.Timestamp{Wall: wall, Logical: logical}
}

// wr returns a write of v by the op d, stamped at wall.
func wr[V any](d crdt.Dot, wall int64, v V) crdt.Write[V] {
	return crdt.Write[V]{Dot: d, Stamp: ts(wall, 0), Author: "acct-" + d.Origin.Node, Value: v}
}

// dotsOf returns the dots of ws, in order.
func dotsOf[V any](ws []crdt.Write[V]) []crdt.Dot {
	ds := make([]crdt.Dot, 0, len(ws))
	for _, w := range ws {
		ds = append(ds, w.Dot)
	}
	return ds
}

// valuesOf returns the values of ws, in order.
func valuesOf[V any](ws []crdt.Write[V]) []V {
	vs := make([]V, 0, len(ws))
	for _, w := range ws {
		vs = append(vs, w.Value)
	}
	return vs
}
