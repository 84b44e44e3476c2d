package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Queue names one owner's streams on a NATS server, so that several
// databases can share one: streams NAME_JOBS and NAME_RESULTS, subjects
// below name.
type Queue struct {
	Name string // "" = "clipfs"; letters, digits, - and _
	// AckWait is how long a delivered job may go without an ack or an
	// InProgress before it is redelivered (default 3 minutes).
	AckWait time.Duration
	// MaxDeliver bounds the deliveries of a job (default 4).
	MaxDeliver int
}

// Defaults of Queue.
const (
	DefaultName       = "clipfs"
	DefaultAckWait    = 3 * time.Minute
	DefaultMaxDeliver = 4
	// Dedup is how long JetStream remembers a job's ID: a rescan within it
	// never queues a video twice (and after it, a worker finds the video
	// up to date).
	Dedup = time.Hour
)

// Normalised is q with its defaults filled in, or an error naming a bad field.
func (q Queue) Normalised() (Queue, error) {
	if q.Name == "" {
		q.Name = DefaultName
	}
	for _, r := range q.Name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return q, fmt.Errorf("queue name %q: only letters, digits, - and _", q.Name)
		}
	}
	if q.AckWait <= 0 {
		q.AckWait = DefaultAckWait
	}
	if q.MaxDeliver <= 0 {
		q.MaxDeliver = DefaultMaxDeliver
	}
	return q, nil
}

func (q Queue) upper() string { return strings.ToUpper(strings.ReplaceAll(q.Name, "-", "_")) }

// JobsStream and ResultsStream are the streams' names.
func (q Queue) JobsStream() string    { return q.upper() + "_JOBS" }
func (q Queue) ResultsStream() string { return q.upper() + "_RESULTS" }

// EventsStream keeps JetStream's advisories of jobs that ran out of
// deliveries until the owner has taken them: an advisory is sent once, to
// whoever listens then, and the owner may be down at that moment.
func (q Queue) EventsStream() string { return q.upper() + "_EVENTS" }

// JobsSubject is where jobs are published; ResultsSubject(worker) where a
// worker's results are; VideoSubject where workers ask for a video's
// record; HeartbeatSubject where workers say they are alive.
func (q Queue) JobsSubject() string                 { return q.Name + ".jobs" }
func (q Queue) ResultsSubject(worker string) string { return q.Name + ".results." + Token(worker) }
func (q Queue) VideoSubject() string                { return q.Name + ".video" }
func (q Queue) HeartbeatSubject() string            { return q.Name + ".workers" }

// The durable consumers: workers share one on the jobs, the owner has the
// results.
const (
	WorkersConsumer = "workers"
	OwnerConsumer   = "owner"
)

// Owner are the owner's consumers: of the results and of the events.
type Owner struct {
	Results, Events jetstream.Consumer
}

// MaxDeliveriesAdvisory is the subject JetStream reports a job on when
// its deliveries ran out without an ack.
func (q Queue) MaxDeliveriesAdvisory() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + q.JobsStream() + "." + WorkersConsumer
}

// Token makes s (a worker's name) usable as one subject token and as one
// file name.
func Token(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r == '/' || r <= ' ' {
			return '_'
		}
		return r
	}, s)
}

// Setup creates (or updates) the owner's streams and consumers: the
// owner's job at start. It returns the jobs stream, the workers' consumer
// and the owner's consumers.
func (q Queue) Setup(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, jetstream.Consumer, Owner, error) {
	var none Owner
	jobs, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: q.JobsStream(), Subjects: []string{q.JobsSubject()}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Duplicates: Dedup, Description: "clipfs: one curation job per video",
	})
	if err != nil {
		return nil, nil, none, fmt.Errorf("stream %s: %w", q.JobsStream(), err)
	}
	workers, err := jobs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: WorkersConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: q.AckWait,
		MaxDeliver: q.MaxDeliver, MaxAckPending: -1, Description: "clipfs workers",
	})
	if err != nil {
		return nil, nil, none, fmt.Errorf("consumer %s on %s: %w", WorkersConsumer, q.JobsStream(), err)
	}
	results, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: q.ResultsStream(), Subjects: []string{q.Name + ".results.>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Description: "clipfs: curated chunks on their way to the index owner",
	})
	if err != nil {
		return nil, nil, none, fmt.Errorf("stream %s: %w", q.ResultsStream(), err)
	}
	owner, err := results.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: OwnerConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute,
		MaxAckPending: 64, Description: "clipfs index owner",
	})
	if err != nil {
		return nil, nil, none, fmt.Errorf("consumer %s on %s: %w", OwnerConsumer, q.ResultsStream(), err)
	}
	events, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: q.EventsStream(), Subjects: []string{q.MaxDeliveriesAdvisory()}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Description: "clipfs: jobs that ran out of deliveries, for the index owner",
	})
	if err != nil {
		return nil, nil, none, fmt.Errorf("stream %s: %w", q.EventsStream(), err)
	}
	ownerEvents, err := events.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: OwnerConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute,
		Description: "clipfs index owner",
	})
	if err != nil {
		return nil, nil, none, fmt.Errorf("consumer %s on %s: %w", OwnerConsumer, q.EventsStream(), err)
	}
	return jobs, workers, Owner{Results: owner, Events: ownerEvents}, nil
}

// WorkersConsumerOf finds the workers' consumer the owner set up, waiting
// for it (the owner may start after the worker) until ctx ends.
func (q Queue) WorkersConsumerOf(ctx context.Context, js jetstream.JetStream, waiting func()) (jetstream.Consumer, error) {
	told := false
	for {
		c, err := js.Consumer(ctx, q.JobsStream(), WorkersConsumer)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrConsumerNotFound) &&
			!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
			return nil, err
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
