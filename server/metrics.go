package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fengqiao/fengqiao/node"
	"github.com/fengqiao/fengqiao/sync"
)

// Metrics is one node's Prometheus metrics, in a registry of its own (no global state, so
// several nodes in one process — the demo, the tests — each report their own).
//
// Counters and the apply histogram are fed by the sync replica that Instrument returns;
// gauges are read from the node when /metrics is scraped (see NewStationHandler).
type Metrics struct {
	reg     *prometheus.Registry
	apply   prometheus.Histogram
	opsIn   prometheus.Counter
	opsOut  prometheus.Counter
	batches *prometheus.CounterVec
}

// NewMetrics returns a registry holding the process's Go and process collectors and the
// sync counters.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fengqiao_apply_seconds",
			Help: "Time to apply one batch received from a peer durably (for a hub member: through the Raft log).",
			// 1 ms to ~16 s: a synced Pebble batch on a laptop up to a Raft commit under load.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		opsIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fengqiao_sync_ops_received_total",
			Help: "Ops received from peers and applied (new ops only; duplicates are not counted).",
		}),
		opsOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fengqiao_sync_ops_sent_total",
			Help: "Ops read from the feed and scope streams for sending to peers (a window resent after a break counts again).",
		}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fengqiao_sync_batches_received_total",
			Help: "Batches received from peers, by outcome: applied, or refused (an error ends the session).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.apply, m.opsIn, m.opsOut, m.batches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// gauge registers a gauge read from f at each scrape.
func (m *Metrics) gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Instrument returns r with its applies timed and its ops counted. Give the result to the
// sync endpoint, the station's sync client or the uplink in place of r.
func (m *Metrics) Instrument(r sync.Replica) sync.Replica {
	return &instrumented{Replica: r, m: m}
}

// instrumented is a sync.Replica that reports to Metrics.
type instrumented struct {
	sync.Replica
	m *Metrics
}

func (i *instrumented) Apply(ctx context.Context, b node.Batch) (node.Result, error) {
	start := time.Now()
	res, err := i.Replica.Apply(ctx, b)
	if err != nil {
		i.m.batches.WithLabelValues("refused").Inc()
		return res, err
	}
	i.m.apply.Observe(time.Since(start).Seconds())
	i.m.batches.WithLabelValues("applied").Inc()
	i.m.opsIn.Add(float64(res.Applied))
	return res, nil
}

func (i *instrumented) Feed(after uint64, limit int, skipVia string) ([]node.FeedEntry, uint64, error) {
	es, next, err := i.Replica.Feed(after, limit, skipVia)
	i.m.opsOut.Add(float64(len(es)))
	return es, next, err
}

func (i *instrumented) ScopeFeed(scope string, after uint64, limit int, skipVia string, stats *node.ReadStats) ([]node.ScopeEntry, uint64, error) {
	es, next, err := i.Replica.ScopeFeed(scope, after, limit, skipVia, stats)
	n := 0
	for _, e := range es {
		if e.LeftCase == "" {
			n++
		}
	}
	i.m.opsOut.Add(float64(n))
	return es, next, err
}

// RaftMetrics is what /metrics reports of a hub member's Raft state.
type RaftMetrics struct {
	State                           string // Follower, Candidate, Leader, Shutdown; "" before Raft runs
	Term, CommitIndex, AppliedIndex uint64
}

// registerNodeGauges adds the gauges read from the node's own state at each scrape.
func (m *Metrics) registerNodeGauges(cfg StationConfig) {
	status := func(f func(node.Status) uint64) func() float64 {
		return func() float64 { return float64(f(cfg.Replica.Status())) }
	}
	m.gauge("fengqiao_feed_ops", "Ops in the replica's changes feed.", status(func(s node.Status) uint64 { return s.FeedSeq }))
	m.gauge("fengqiao_cases", "Cases the replica holds.", status(func(s node.Status) uint64 { return s.Cases }))
	m.gauge("fengqiao_pending_ops", "Ops held after a gap in their origin's chain, waiting for it to fill.",
		status(func(s node.Status) uint64 { return s.Pending }))
	m.gauge("fengqiao_quarantined_ops", "Ops kept aside for a person: their writer may not write their case.",
		status(func(s node.Status) uint64 { return s.Quarantined }))
	m.gauge("fengqiao_equivocations", "Ops whose dot was seen with other content: an alarm.",
		status(func(s node.Status) uint64 { return s.Equivocations }))
	if cfg.Peers != nil {
		m.reg.MustRegister(&peerCollector{peers: cfg.Peers})
	}
	if cfg.Sessions != nil {
		m.gauge("fengqiao_sync_sessions", "Live sync sessions with stations.", func() float64 { return float64(cfg.Sessions()) })
	}
	if cfg.RaftMetrics != nil {
		m.reg.MustRegister(&raftCollector{raft: cfg.RaftMetrics})
	}
}

var (
	peerPendingDesc   = prometheus.NewDesc("fengqiao_peer_pending_ops", "What the peer has not acknowledged yet: our ops (at a station), entries of its scope streams (at a hub, as of its latest session with this member).", []string{"peer"}, nil)
	peerConnectedDesc = prometheus.NewDesc("fengqiao_peer_connected", "1 while a sync session with the peer is up.", []string{"peer"}, nil)
)

// peerCollector reports the sync peers' gauges, one series per peer.
type peerCollector struct{ peers func() []PeerStatus }

func (c *peerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- peerPendingDesc
	ch <- peerConnectedDesc
}

func (c *peerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.peers() {
		connected := 0.0
		if p.Connected {
			connected = 1
		}
		if !p.PendingUnknown { // a hub member that never served the station has no figure
			ch <- prometheus.MustNewConstMetric(peerPendingDesc, prometheus.GaugeValue, float64(p.PendingOps), p.ID)
		}
		ch <- prometheus.MustNewConstMetric(peerConnectedDesc, prometheus.GaugeValue, connected, p.ID)
	}
}

var (
	raftStateDesc   = prometheus.NewDesc("fengqiao_raft_state", "1 for the member's current Raft state.", []string{"state"}, nil)
	raftTermDesc    = prometheus.NewDesc("fengqiao_raft_term", "The member's current Raft term.", nil, nil)
	raftCommitDesc  = prometheus.NewDesc("fengqiao_raft_commit_index", "The highest Raft log index known committed.", nil, nil)
	raftAppliedDesc = prometheus.NewDesc("fengqiao_raft_applied_index", "The highest Raft log index applied to the member's replica.", nil, nil)
	raftStates      = []string{"Follower", "Candidate", "Leader", "Shutdown"}
)

// raftCollector reports a hub member's Raft state.
type raftCollector struct{ raft func() RaftMetrics }

func (c *raftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- raftStateDesc
	ch <- raftTermDesc
	ch <- raftCommitDesc
	ch <- raftAppliedDesc
}

func (c *raftCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.raft()
	for _, s := range raftStates {
		v := 0.0
		if st.State == s {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(raftStateDesc, prometheus.GaugeValue, v, s)
	}
	ch <- prometheus.MustNewConstMetric(raftTermDesc, prometheus.GaugeValue, float64(st.Term))
	ch <- prometheus.MustNewConstMetric(raftCommitDesc, prometheus.GaugeValue, float64(st.CommitIndex))
	ch <- prometheus.MustNewConstMetric(raftAppliedDesc, prometheus.GaugeValue, float64(st.AppliedIndex))
}
