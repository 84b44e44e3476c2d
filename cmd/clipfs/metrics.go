package main

import (
	"net/http"
	"time"

	"github.com/clipfs/clipfs/curate/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are clipfs serve's Prometheus metrics: curation stages and errors
// (a curate.Observer), FUSE operations (mount.Options.Observe), and the
// daemon's counters and queues, read from its status at each scrape.
type metrics struct {
	reg      *prometheus.Registry
	stages   *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	fuseOps  *prometheus.CounterVec
	fuseTime *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clipfs_stage_duration_seconds",
			Help:    "Time one video (probe, split) or clip (other stages) spent in a curation stage, not counting waits for an ffmpeg slot.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12), // 5 ms .. ~20 min
		}, []string{"stage"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clipfs_errors_total",
			Help: "Failures by kind: clip errors of the metas (transcode, motion_decode, caption, ...), and media or internal for videos that could not be curated.",
		}, []string{"kind"}),
		fuseOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clipfs_fuse_operations_total",
			Help: "FUSE operations served by the mount, by type.",
		}, []string{"op"}),
		fuseTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clipfs_fuse_operation_duration_seconds",
			Help:    "Time to serve a FUSE operation, by type.",
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10), // 10 us .. ~2.6 s
		}, []string{"op"}),
	}
	m.reg.MustRegister(m.stages, m.errors, m.fuseOps, m.fuseTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// follow adds d's counters and queues to the metrics.
func (m *metrics) follow(d *daemon.Daemon) { m.reg.MustRegister(daemonCollector{d}) }

// handler serves the metrics in Prometheus text format (the control API's
// /metrics).
func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }

// Stage and Error make metrics a curate.Observer.
func (m *metrics) Stage(stage string, d time.Duration) {
	m.stages.WithLabelValues(stage).Observe(d.Seconds())
}
func (m *metrics) Error(kind string) { m.errors.WithLabelValues(kind).Inc() }

// fuseOp records one FUSE operation.
func (m *metrics) fuseOp(op string, d time.Duration) {
	m.fuseOps.WithLabelValues(op).Inc()
	m.fuseTime.WithLabelValues(op).Observe(d.Seconds())
}

// daemonCollector reads the daemon's totals and queues at scrape time.
type daemonCollector struct{ d *daemon.Daemon }

var (
	descVideos   = prometheus.NewDesc("clipfs_videos_total", "Videos handled, by result: curated, up_to_date or failed.", []string{"result"}, nil)
	descClips    = prometheus.NewDesc("clipfs_clips_total", "Clips committed (passed and filtered).", nil, nil)
	descBytes    = prometheus.NewDesc("clipfs_clip_bytes_total", "Bytes of clip media committed.", nil, nil)
	descSeconds  = prometheus.NewDesc("clipfs_video_seconds_total", "Seconds of video in the clips committed.", nil, nil)
	descSealed   = prometheus.NewDesc("clipfs_shards_sealed_total", "WebDataset shards sealed.", nil, nil)
	descQueued   = prometheus.NewDesc("clipfs_queue_videos", "Videos waiting to be curated.", nil, nil)
	descInFlight = prometheus.NewDesc("clipfs_inflight_videos", "Videos being curated.", nil, nil)
	descSettling = prometheus.NewDesc("clipfs_settling_files", "Files seen in the input folder but still being written.", nil, nil)
	descPaused   = prometheus.NewDesc("clipfs_paused", "1 while curation is paused (by clipfs pause, or for a full disk).", nil, nil)
	descWaiting  = prometheus.NewDesc("clipfs_waiting_videos", "Videos a fault of the machine left unfinished, waiting for a retry, by reason.", []string{"reason"}, nil)
	descOpen     = prometheus.NewDesc("clipfs_open_shard_samples", "Samples in the shard being filled.", nil, nil)

	// With workers (serve --nats or --nats-listen):
	descJobs         = prometheus.NewDesc("clipfs_jobs", "Jobs on the JetStream queue, by state: pending (not delivered) or in_hand (delivered, not acked).", []string{"state"}, nil)
	descRedelivered  = prometheus.NewDesc("clipfs_jobs_redelivered", "Jobs in hand that were delivered more than once.", nil, nil)
	descRedeliveries = prometheus.NewDesc("clipfs_jobs_finished_after_redelivery_total", "Jobs finished on a delivery after their first.", nil, nil)
	descJobsFailed   = prometheus.NewDesc("clipfs_jobs_failed_total", "Jobs that failed on every delivery (or ran out of deliveries after an input failure).", nil, nil)
	descResults      = prometheus.NewDesc("clipfs_results_total", "Chunk results from workers, by outcome: committed, or dropped (sent twice, committed before).", []string{"outcome"}, nil)
	descWorkers      = prometheus.NewDesc("clipfs_workers", "Workers heard from, by state: alive or lost (silent past the heartbeat limit).", []string{"state"}, nil)
	descWorkerRate   = prometheus.NewDesc("clipfs_worker_clips_per_minute", "Clips a worker committed per minute over the last minute.", []string{"worker", "host", "device"}, nil)
	descWorkerJobs   = prometheus.NewDesc("clipfs_worker_jobs_in_hand", "Jobs a worker holds now.", []string{"worker", "host", "device"}, nil)
	descWorkerBeat   = prometheus.NewDesc("clipfs_worker_heartbeat_age_seconds", "Seconds since a worker's last heartbeat.", []string{"worker", "host", "device"}, nil)
)

func (c daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVideos, descClips, descBytes, descSeconds, descSealed, descQueued, descInFlight, descSettling, descPaused, descWaiting, descOpen,
		descJobs, descRedelivered, descRedeliveries, descJobsFailed, descResults, descWorkers, descWorkerRate, descWorkerJobs, descWorkerBeat} {
		ch <- d
	}
}

func (c daemonCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.d.Status()
	t := s.Totals
	ch <- prometheus.MustNewConstMetric(descVideos, prometheus.CounterValue, float64(t.Curated), "curated")
	ch <- prometheus.MustNewConstMetric(descVideos, prometheus.CounterValue, float64(t.UpToDate), "up_to_date")
	ch <- prometheus.MustNewConstMetric(descVideos, prometheus.CounterValue, float64(t.Failed), "failed")
	ch <- prometheus.MustNewConstMetric(descClips, prometheus.CounterValue, float64(t.Clips))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(t.Bytes))
	ch <- prometheus.MustNewConstMetric(descSeconds, prometheus.CounterValue, t.Seconds)
	ch <- prometheus.MustNewConstMetric(descSealed, prometheus.CounterValue, float64(t.Sealed))
	ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(len(s.InFlight)))
	ch <- prometheus.MustNewConstMetric(descSettling, prometheus.GaugeValue, float64(s.Settling))
	paused := 0.0
	if s.State == "paused" || s.DiskFull != "" {
		paused = 1
	}
	waiting := map[string]int{}
	for _, w := range s.Waiting {
		waiting[w.Reason]++
	}
	for reason, n := range waiting {
		ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, paused)
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(s.OpenShardSamples))
	if j := s.Jobs; j != nil {
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
		counter := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
		}
		gauge(descJobs, float64(j.Pending), "pending")
		gauge(descJobs, float64(j.InHand), "in_hand")
		gauge(descRedelivered, float64(j.Redelivered))
		counter(descRedeliveries, float64(j.Redeliveries))
		counter(descJobsFailed, float64(j.FailedAll))
		counter(descResults, float64(j.Committed), "committed")
		counter(descResults, float64(j.Dropped), "dropped")
		alive, lost := 0, 0
		for _, w := range j.Workers {
			if w.Lost {
				lost++
			} else {
				alive++
			}
			gauge(descWorkerRate, w.ClipsPerMinute, w.Name, w.Host, w.Device)
			gauge(descWorkerJobs, float64(len(w.Jobs)), w.Name, w.Host, w.Device)
			gauge(descWorkerBeat, w.Silent, w.Name, w.Host, w.Device)
		}
		gauge(descWorkers, float64(alive), "alive")
		gauge(descWorkers, float64(lost), "lost")
	}
}
