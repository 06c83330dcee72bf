package checks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Kafka checks a Kafka cluster: each probe asks the listed brokers for the
// cluster's metadata (and the listed topics'), and optionally produces a
// record and consumes it back. One franz-go client per check, built once,
// connects lazily and keeps its connections between probes.
//
// The metadata request goes to the listed (seed) brokers themselves, all at
// once, and the first answer wins. franz-go's own routing (and kadm's, on
// top of it) would send it to any broker known from earlier metadata, at
// the address the broker advertises: a listed broker that stopped answering
// would go unnoticed, and a failure could not name the address the user
// wrote.
type Kafka struct {
	client  *kgo.Client
	brokers []string
	topics  []string
	rtTopic string
	name    string
	timeout time.Duration
	secrets []string
	rt      chan struct{} // one round trip at a time: they share the client's consumer
}

type kafkaSASL struct {
	Mechanism string `key:"mechanism" enum:"plain,scram-sha-256,scram-sha-512" default:"plain" doc:"SASL mechanism"`
	Username  string `key:"username" required:"true" doc:"SASL user name"`
	Password  string `key:"password" required:"true" secret:"true" doc:"SASL password"`
}

type kafkaConfig struct {
	Brokers        []string   `key:"brokers" required:"true" doc:"bootstrap brokers, host:port each; the metadata request goes to them"`
	Topics         []string   `key:"topics" doc:"topics that must exist with a leader for every partition"`
	RoundTripTopic string     `key:"round_trip_topic" doc:"produce a unique record to this existing topic and consume it back (needs write and read permission on it)"`
	SASL           *kafkaSASL `key:"sasl" doc:"SASL authentication"`
	TLS            *brokerTLS `key:"tls" doc:"connect with TLS (an empty section {} for the system roots)"`
}

func newKafkaConfig(Settings) Config { return &kafkaConfig{} }

func (c *kafkaConfig) Validate() error {
	var p Problems
	if c.Brokers != nil && len(c.Brokers) == 0 {
		p.Add("brokers", "must list at least one host:port")
	}
	for i, b := range c.Brokers {
		if msg := checkHostPort(b); msg != "" {
			p.Add(fmt.Sprintf("brokers[%d]", i), "%s", msg)
		}
	}
	for i, t := range c.Topics {
		if msg := kafkaTopicProblem(t); msg != "" {
			p.Add(fmt.Sprintf("topics[%d]", i), "%s", msg)
		}
	}
	if c.RoundTripTopic != "" {
		if msg := kafkaTopicProblem(c.RoundTripTopic); msg != "" {
			p.Add("round_trip_topic", "%s", msg)
		}
	}
	if c.SASL != nil && c.SASL.Mechanism == "" {
		c.SASL.Mechanism = "plain"
	}
	return p.Err()
}

// kafkaTopicProblem says what Kafka would refuse in a topic name.
func kafkaTopicProblem(t string) string {
	switch {
	case t == "":
		return "must not be empty"
	case len(t) > 249:
		return "must be at most 249 characters"
	case t == "." || t == "..":
		return `must not be "." or ".."`
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "may hold only letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}

// Build makes the check's client; it connects on the first probe.
func (c *kafkaConfig) Build(env Env) (Checker, error) {
	t := env.Timeout
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID("healthd"),
		kgo.DialTimeout(t),
		kgo.RequestRetries(0),
		kgo.RetryTimeout(t),
		kgo.RequestTimeoutOverhead(t),
		// The round trip: one record, sent at once, failed when the
		// probe's deadline has passed, without the idempotent producer's
		// extra request (and ACL).
		kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(0),
		kgo.RecordRetries(1),
		kgo.RecordDeliveryTimeout(max(t, time.Second)), // franz-go's least; ctx ends the wait sooner
		kgo.ProduceRequestTimeout(t),
		kgo.FetchMaxWait(t),
		kgo.MetadataMinAge(100 * time.Millisecond),
	}
	var secrets []string
	if s := c.SASL; s != nil {
		secrets = append(secrets, s.Password)
		var m sasl.Mechanism
		switch s.Mechanism {
		case "scram-sha-256":
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
		case "scram-sha-512":
			m = scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
		default:
			m = plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	if c.TLS != nil {
		cfg, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %v", err)
	}
	return &Kafka{
		client:  client,
		brokers: c.Brokers,
		topics:  c.Topics,
		rtTopic: c.RoundTripTopic,
		name:    env.Name,
		timeout: t,
		secrets: secrets,
		rt:      make(chan struct{}, 1),
	}, nil
}

// Close closes the client's connections.
func (k *Kafka) Close() error {
	k.client.Close()
	return nil
}

// Check runs one probe.
func (k *Kafka) Check(ctx context.Context) error {
	meta, where, err := k.metadata(ctx)
	if err != nil {
		return err
	}
	Observe(ctx, "brokers", float64(len(meta.Brokers)), "brokers")
	if err := k.checkTopics(ctx, meta, where); err != nil {
		return err
	}
	if k.rtTopic == "" {
		Note(ctx, "%d brokers (asked %s)", len(meta.Brokers), where)
		return nil
	}
	took, err := k.roundTrip(ctx)
	if err != nil {
		return err
	}
	ms := float64(took.Microseconds()) / 1000
	Observe(ctx, "roundTripTime", ms, "ms")
	Note(ctx, "%d brokers (asked %s); record produced and consumed back on %s in %.1f ms", len(meta.Brokers), where, k.rtTopic, ms)
	return nil
}

// metadata asks every listed broker at once for the metadata of the
// listed topics (none: only the brokers), and returns the first answer and
// who gave it. When none answers, the error names each broker's fault.
func (k *Kafka) metadata(ctx context.Context) (*kmsg.MetadataResponse, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		i    int
		resp *kmsg.MetadataResponse
		err  error
	}
	seeds := k.client.SeedBrokers()
	answers := make(chan answer, len(seeds))
	for i, b := range seeds {
		go func() {
			req := kmsg.NewPtrMetadataRequest()
			req.Topics = []kmsg.MetadataRequestTopic{} // none: an empty list, not null (all topics)
			for _, t := range k.topics {
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr(t)
				req.Topics = append(req.Topics, rt)
			}
			resp, err := b.Request(ctx, req)
			if err != nil && ctx.Err() == nil && kafkaDeadConn(err) {
				// The kept connection died since the last probe (a
				// broker restarted): franz-go dropped it, and this
				// request dials anew.
				resp, err = b.Request(ctx, req)
			}
			a := answer{i: i, err: err}
			if err == nil {
				a.resp = resp.(*kmsg.MetadataResponse)
			}
			answers <- a
		}()
	}
	failures := make([]error, len(seeds))
	for range seeds {
		a := <-answers
		if a.err == nil {
			return a.resp, k.brokers[a.i], nil
		}
		failures[a.i] = k.fail(ctx, a.err, k.brokers[a.i])
	}
	if len(failures) == 1 {
		return nil, "", failures[0]
	}
	msgs := make([]string, len(failures))
	for i, f := range failures {
		msgs[i] = strings.TrimPrefix(Message(f), KindUnavailable.String()+": ")
	}
	return nil, "", &Error{Kind: KindUnavailable, Msg: "no broker answered: " + strings.Join(msgs, "; "), Err: failures[0]}
}

// kafkaDeadConn reports whether err is a connection that had been open
// and was closed or reset under the request.
func kafkaDeadConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// checkTopics fails when a listed topic is missing or has a partition
// without a leader, and observes how many partitions have none.
func (k *Kafka) checkTopics(ctx context.Context, meta *kmsg.MetadataResponse, where string) error {
	if len(k.topics) == 0 {
		return nil
	}
	var problems []string
	leaderless := 0
	for _, t := range meta.Topics {
		name := "?"
		if t.Topic != nil {
			name = *t.Topic
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				problems = append(problems, fmt.Sprintf("topic %s does not exist", name))
			} else {
				problems = append(problems, fmt.Sprintf("topic %s: %s", name, kafkaErrText(err)))
			}
			continue
		}
		n := 0
		for _, p := range t.Partitions {
			if p.Leader < 0 || p.ErrorCode == kerr.LeaderNotAvailable.Code {
				n++
			}
		}
		leaderless += n
		if n > 0 {
			problems = append(problems, fmt.Sprintf("topic %s: %d of %d partitions have no leader", name, n, len(t.Partitions)))
		}
	}
	Observe(ctx, "partitionsWithoutLeader", float64(leaderless), "partitions")
	if len(problems) > 0 {
		return Unexpected("%s (%s)", strings.Join(problems, "; "), where)
	}
	return nil
}

// roundTrip produces a unique record to the round-trip topic and consumes
// it back from the offset the broker gave it.
func (k *Kafka) roundTrip(ctx context.Context) (time.Duration, error) {
	select {
	case k.rt <- struct{}{}:
		defer func() { <-k.rt }()
	case <-ctx.Done():
		return 0, timeoutFailure(ctx, ctx.Err(), k.timeout, k.brokers[0])
	}
	// Records of earlier probes that ran out of time may still be buffered
	// (a broker that held their produce requests). franz-go fails every
	// record of a partition with the first one's error, so a new record
	// queued behind them would fail with their expired deadline: wait until
	// they are settled, within this probe's time.
	if k.client.BufferedProduceRecords() > 0 {
		if err := k.client.Flush(ctx); err != nil {
			return 0, timeoutFailure(ctx, err, k.timeout, k.brokers[0])
		}
	}
	var b [16]byte
	rand.Read(b[:])
	value := []byte("healthd-" + hex.EncodeToString(b[:]))
	start := time.Now()
	produced := make(chan error, 1)
	rec := &kgo.Record{Topic: k.rtTopic, Key: []byte("healthd:" + k.name), Value: value}
	// The promise fires once the record is acknowledged or has failed
	// (RecordDeliveryTimeout ends it); the probe waits only until ctx is
	// done.
	k.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { produced <- err })
	select {
	case err := <-produced:
		if err != nil {
			return 0, k.rtFail(ctx, "produce", err)
		}
	case <-ctx.Done():
		return 0, timeoutFailure(ctx, ctx.Err(), k.timeout, k.brokers[0])
	}
	k.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{
		k.rtTopic: {rec.Partition: kgo.NewOffset().At(rec.Offset)},
	})
	defer k.client.RemoveConsumePartitions(map[string][]int32{k.rtTopic: {rec.Partition}})
	for {
		fetches := k.client.PollFetches(ctx)
		found := false
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Topic == k.rtTopic && r.Partition == rec.Partition && string(r.Value) == string(value) {
				found = true
			}
		})
		if found {
			return time.Since(start), nil
		}
		if ctx.Err() != nil {
			return 0, timeoutFailure(ctx, ctx.Err(), k.timeout, k.brokers[0])
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) {
				continue
			}
			return 0, k.rtFail(ctx, "consume", fe.Err)
		}
		if fetches.IsClientClosed() {
			return 0, Unavailable("client is closed")
		}
	}
}

// rtFail words a failed produce or consume of the round trip.
func (k *Kafka) rtFail(ctx context.Context, what string, err error) error {
	where := k.brokers[0]
	var ke *kerr.Error
	if errors.As(err, &ke) {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf("round-trip topic %s does not exist (%s)", k.rtTopic, where), Err: err}
		}
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s on %s: %s (%s)", what, k.rtTopic, kafkaErrText(err), where), Err: err}
	}
	if ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		// Not this probe's deadline: franz-go failed the record along with
		// an earlier one whose deadline had passed.
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s on %s: failed with an earlier probe's record that ran out of time (%s)", what, k.rtTopic, where), Err: err}
	}
	if errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, kgo.ErrRecordRetries) {
		return timeoutFailure(ctx, err, k.timeout, where)
	}
	return k.fail(ctx, err, where)
}

// fail words a failed request to the broker at where.
func (k *Kafka) fail(ctx context.Context, err error, where string) error {
	wrap := func(msg string) error { return &Error{Kind: KindUnavailable, Msg: msg + " (" + where + ")", Err: err} }
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return wrap("SASL authentication failed")
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return wrap("SASL mechanism not enabled on the broker")
	case errors.Is(err, kgo.ErrClientClosed):
		return wrap("client is closed")
	case errors.As(err, &ke):
		return wrap(kafkaErrText(err))
	}
	var fre *kgo.ErrFirstReadEOF
	if errors.As(err, &fre) {
		// The broker hung up on the first request: it speaks TLS, or
		// wanted SASL.
		return wrap("connection closed by server on the first request (does the broker want TLS or SASL?)")
	}
	if nf := netFailure(ctx, err, k.timeout, where); nf != nil {
		return nf
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return otherFailure(err, where)
	}
	return wrap(Redact(err.Error(), k.secrets))
}

// kafkaErrText is a Kafka error code's name and meaning, without the
// library's prefixes.
func kafkaErrText(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message + ": " + ke.Description
	}
	return err.Error()
}
