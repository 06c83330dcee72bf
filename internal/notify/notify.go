// Package notify sends webhooks when a check changes state: a generic JSON
// POST or a Slack-compatible {"text": …}. Each webhook has its own bounded
// queue and worker, so a slow or hanging receiver delays nothing but its own
// later notifications; when a queue is full the event is dropped and logged.
// Every request has a timeout and a bounded number of retries with
// exponential backoff. Messages are redacted with the config's secrets, and
// a webhook's URL (a Slack URL is a credential) is never logged.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
	"github.com/healthd/healthd/internal/runner"
)

// Event is one state change, as sent in the JSON format.
type Event struct {
	Check    string    `json:"check"`
	Old      string    `json:"old_state"` // passing, warning, failing, or unknown for a check's first result
	New      string    `json:"new_state"`
	Message  string    `json:"message"`
	Critical bool      `json:"critical"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
}

// Options configure a Set.
type Options struct {
	Host    string   // this machine's name, sent with every event
	Secrets []string // redacted from every message (config.Secrets())
	Logger  *slog.Logger
	// QueueSize is each webhook's queue length (default 64).
	QueueSize int
	// Backoff is the wait before the first retry; it doubles with each
	// retry, up to 30s (default 1s).
	Backoff time.Duration
	// Client sends the requests (default: a client with no redirects
	// followed, so a URL's credential never goes to another host).
	Client *http.Client
}

// Set is the webhooks of one config. It is a runner.Observer.
type Set struct {
	opts      Options
	notifiers []*notifier
	mu        sync.RWMutex // guards closed against sends on closed queues
	closed    bool
}

type notifier struct {
	cfg    config.Notify
	name   string // "notify[0] (hooks.slack.com)": never the URL
	only   map[string]bool
	queue  chan Event
	ctx    context.Context // cancelled to abandon deliveries on a hard stop
	cancel context.CancelFunc
	done   chan struct{}
}

// New starts a worker per webhook; call Close to stop them.
func New(list []config.Notify, opts Options) *Set {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 64
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s := &Set{opts: opts}
	for i, nc := range list {
		host := "?"
		if u, err := url.Parse(nc.URL); err == nil {
			host = u.Host
		}
		ctx, cancel := context.WithCancel(context.Background())
		n := &notifier{cfg: nc, name: fmt.Sprintf("notify[%d] (%s)", i, host), queue: make(chan Event, opts.QueueSize),
			ctx: ctx, cancel: cancel, done: make(chan struct{})}
		if len(nc.Checks) > 0 {
			n.only = map[string]bool{}
			for _, c := range nc.Checks {
				n.only[c] = true
			}
		}
		s.notifiers = append(s.notifiers, n)
		go s.work(n)
	}
	return s
}

// Observe queues a notification for every change of state (runner.Changed);
// it never blocks.
func (s *Set) Observe(c *runner.Check, prev, cur *runner.Result) {
	if len(s.notifiers) == 0 || !runner.Changed(prev, cur) {
		return
	}
	ev := Event{Check: c.Name, Old: "unknown", New: cur.Status.String(), Critical: c.Critical,
		Message: checks.Redact(cur.Message, s.opts.Secrets), Time: cur.Finished().UTC(), Host: s.opts.Host}
	if prev != nil {
		ev.Old = prev.Status.String()
	}
	s.Send(ev)
}

// Send queues ev on every webhook that wants it, without blocking: a full
// queue drops the event and logs it. After Close it does nothing.
func (s *Set) Send(ev Event) {
	ev.Message = checks.Redact(ev.Message, s.opts.Secrets)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	for _, n := range s.notifiers {
		if n.only != nil && !n.only[ev.Check] {
			continue
		}
		select {
		case n.queue <- ev:
		default:
			s.opts.Logger.Warn("notification dropped: queue full", "notifier", n.name, "check", ev.Check,
				"old_state", ev.Old, "new_state", ev.New, "queue", cap(n.queue))
		}
	}
}

// Close stops taking events and lets the workers deliver what is queued
// until ctx ends; then deliveries in progress are abandoned and what is
// left is dropped (and logged). It returns when every worker has stopped.
func (s *Set) Close(ctx context.Context) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, n := range s.notifiers {
		close(n.queue)
	}
	s.mu.Unlock()
	for _, n := range s.notifiers {
		select {
		case <-n.done:
		case <-ctx.Done():
			n.cancel()
			<-n.done
		}
		n.cancel()
	}
}

func (s *Set) work(n *notifier) {
	defer close(n.done)
	dropped := 0
	for ev := range n.queue {
		if n.ctx.Err() != nil {
			dropped++
			continue
		}
		s.deliver(n, ev)
	}
	if dropped > 0 {
		s.opts.Logger.Warn("notifications dropped on shutdown", "notifier", n.name, "count", dropped)
	}
}

// deliver sends ev, retrying up to cfg.Retries times with backoff.
func (s *Set) deliver(n *notifier, ev Event) {
	body, err := s.body(n.cfg.Format, ev)
	if err != nil {
		s.opts.Logger.Error("notification not sent", "notifier", n.name, "check", ev.Check, "err", err)
		return
	}
	wait := s.opts.Backoff
	attempts := 0
	for {
		attempts++
		err = s.post(n, body)
		if err == nil {
			s.opts.Logger.Debug("notification sent", "notifier", n.name, "check", ev.Check, "new_state", ev.New, "attempts", attempts)
			return
		}
		if attempts > n.cfg.Retries || n.ctx.Err() != nil {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
		}
		wait = min(2*wait, 30*time.Second)
	}
	s.opts.Logger.Warn("notification failed", "notifier", n.name, "check", ev.Check, "new_state", ev.New,
		"attempts", attempts, "err", s.redact(n, err))
}

func (s *Set) post(n *notifier, body []byte) error {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "healthd")
	for k, v := range n.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text repeats the URL
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && n.ctx.Err() == nil {
			return fmt.Errorf("no answer within %s", n.cfg.Timeout)
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

func (s *Set) redact(n *notifier, err error) string {
	return checks.Redact(err.Error(), slices.Concat(n.cfg.Secrets, s.opts.Secrets))
}

func (s *Set) body(format string, ev Event) ([]byte, error) {
	if format == "slack" {
		return json.Marshal(map[string]string{"text": SlackText(ev)})
	}
	return json.Marshal(ev)
}

// SlackText is the one-line text of the Slack format.
func SlackText(ev Event) string {
	severity := ""
	if ev.New == "failing" && !ev.Critical {
		severity = " (non-critical)"
	}
	text := fmt.Sprintf("healthd on %s: check %s is %s%s (was %s)", ev.Host, ev.Check, ev.New, severity, ev.Old)
	if ev.Message != "" {
		text += ": " + ev.Message
	}
	return text
}
