package checks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// S3 checks a bucket on Amazon S3 or an S3-compatible server. Each probe is a
// HeadBucket; with write_test it also puts a uniquely named object under
// prefix, reads it back, compares and deletes it.
type S3 struct {
	bucket    string
	prefix    string
	writeTest bool
	addr      string        // host:port named in messages when the error has none
	timeout   time.Duration // the check's timeout, named in "timed out after …"
	client    *s3.Client
	transport *http.Transport
	logger    *slog.Logger

	cleanups sync.WaitGroup // background deletes of probe objects after a timeout
}

type s3Config struct {
	Bucket          string `key:"bucket" required:"true" doc:"bucket name (no \"/\")"`
	Region          string `key:"region" doc:"region used to sign requests and to find the AWS endpoint"`
	Endpoint        string `key:"endpoint" default:"AWS" doc:"base URL of an S3-compatible server (http://host:port or https://host), without credentials"`
	PathStyle       bool   `key:"path_style" doc:"path-style addressing (http://host/bucket/key), which most S3-compatible servers need"`
	AccessKeyID     string `key:"access_key_id" doc:"static credentials: set both this and secret_access_key, or neither (default: the AWS credential chain)"`
	SecretAccessKey string `key:"secret_access_key" secret:"true" doc:"the secret of access_key_id; hidden in every message, log line and page"`
	WriteTest       bool   `key:"write_test" doc:"also put, read back and delete a probe object under prefix"`
	Prefix          string `key:"prefix" doc:"where the write test's probe objects go; must not start with \"/\""`

	endpoint *url.URL // Endpoint, parsed by Validate; nil for AWS
}

func newS3Config(Settings) Config { return &s3Config{Region: "us-east-1", Prefix: "healthd/"} }

func (c *s3Config) Validate() error {
	var p Problems
	if strings.Contains(c.Bucket, "/") {
		p.Add("bucket", "must be a bucket name without \"/\" (object paths go in prefix)")
	}
	if c.Region == "" {
		p.Add("region", "must not be empty")
	}
	c.endpoint = nil
	if c.Endpoint != "" {
		c.endpoint = parseS3Endpoint(&p, c.Endpoint)
	}
	switch {
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		p.Add("secret_access_key", "is required when access_key_id is set")
	case c.AccessKeyID == "" && c.SecretAccessKey != "":
		p.Add("access_key_id", "is required when secret_access_key is set")
	}
	if strings.HasPrefix(c.Prefix, "/") {
		p.Add("prefix", "must not start with \"/\"")
	}
	return p.Err()
}

// Build loads the AWS configuration (the environment and the shared config
// files; credentials from the default chain are only fetched by the first
// probe) and makes the client. It opens no connection.
func (c *s3Config) Build(env Env) (Checker, error) {
	timeout := env.Timeout
	// The SDK's buildable client lets LoadDefaultConfig add AWS_CA_BUNDLE;
	// its transport is then taken out so that every probe shares it and
	// Close can release its connections. Timeouts derive from the check's.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = timeout
		tr.ResponseHeaderTimeout = timeout
		tr.ExpectContinueTimeout = time.Second
		tr.MaxIdleConns = 4
		tr.MaxIdleConnsPerHost = 2
		tr.IdleConnTimeout = 90 * time.Second
	})
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(c.Region),
		config.WithHTTPClient(httpClient),
		// One attempt: the standard retryer's back-off would eat the deadline
		// and turn "connection refused" into "timed out".
		config.WithRetryMaxAttempts(1),
		// AWS_DEFAULTS_MODE=auto would ask EC2 instance metadata about the
		// environment here, in Build; legacy never does.
		config.WithDefaultsMode(aws.DefaultsModeLegacy),
	}
	if c.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading the AWS configuration: %w", err)
	}
	var tr *http.Transport
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		tr = bc.GetTransport()
	} else {
		tr = httpClient.GetTransport()
	}
	cfg.HTTPClient = &http.Client{
		Transport: tr,
		// Like the SDK's own client: a redirect (a bucket in another
		// region) is an answer to report, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.endpoint != nil {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// Many S3-compatible servers reject the newer default checksums;
		// the write test compares the content itself.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})

	addr := fmt.Sprintf("s3.%s.amazonaws.com:443", c.Region)
	if c.endpoint != nil {
		addr = hostPort(c.endpoint)
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &S3{
		bucket:    c.Bucket,
		prefix:    c.Prefix,
		writeTest: c.WriteTest,
		addr:      addr,
		timeout:   env.Timeout,
		client:    client,
		transport: tr,
		logger:    logger,
	}, nil
}

// parseS3Endpoint validates endpoint without ever echoing credentials in it.
func parseS3Endpoint(p *Problems, endpoint string) *url.URL {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		p.Add("endpoint", "must be a URL such as http://127.0.0.1:7070")
		return nil
	}
	if u.User != nil {
		p.Add("endpoint", "must not contain credentials; use access_key_id and secret_access_key")
		return nil
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		p.Add("endpoint", "must be an http or https URL, not %q", u.Scheme)
		return nil
	}
	return u
}

// hostPort returns u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return net.JoinHostPort(u.Hostname(), "443")
}

// Check runs one probe.
func (c *S3) Check(ctx context.Context) error {
	_, err := c.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(c.bucket)})
	if err != nil {
		return c.explain(ctx, err, "s3:ListBucket")
	}
	if !c.writeTest {
		Note(ctx, "bucket %s is reachable", c.bucket)
		return nil
	}
	return c.writeReadDelete(ctx)
}

// writeReadDelete is the seed's storage check: put, get and compare, delete.
// The object is deleted even when the read or the comparison fails.
func (c *S3) writeReadDelete(ctx context.Context) (err error) {
	key, err := c.probeKey()
	if err != nil {
		return Unavailable("cannot make a probe object name: %v", err)
	}
	body := []byte("written by healthd to test this bucket; safe to delete. key=" + key +
		" at=" + time.Now().UTC().Format(time.RFC3339Nano))

	defer func() {
		if ctx.Err() != nil {
			// The deadline passed: the put may still have landed. Delete
			// in the background, bounded by the check's own timeout, so a
			// slow server does not hold this probe past its deadline.
			c.deleteLater(key)
			return
		}
		_, derr := c.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)})
		if derr == nil {
			return
		}
		// The deadline can pass during the delete: the transport's own
		// timeout (ResponseHeaderTimeout, the check's timeout too) can end
		// a hung read a moment before ctx does. The background delete
		// then still removes the object.
		late := ctx.Err() != nil
		if late {
			c.deleteLater(key)
		}
		if err == nil {
			err = c.step("deleting "+key, c.explain(ctx, derr, "s3:DeleteObject"))
			return
		}
		if !late { // deleteLater warns if it fails too
			c.logger.Warn("s3: could not delete the probe object", "bucket", c.bucket, "key", key, "error", Message(c.explain(ctx, derr, "s3:DeleteObject")))
		}
	}()

	if _, err := c.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(c.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("text/plain"),
	}); err != nil {
		return c.step("writing "+key, c.explain(ctx, err, "s3:PutObject"))
	}
	out, err := c.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)})
	if err != nil {
		return c.step("reading "+key, c.explain(ctx, err, "s3:GetObject"))
	}
	got, err := io.ReadAll(io.LimitReader(out.Body, int64(len(body))+1))
	out.Body.Close()
	if err != nil {
		return c.step("reading "+key, c.explain(ctx, err, "s3:GetObject"))
	}
	if !bytes.Equal(got, body) {
		return Unexpected("object %s read back does not match what was written (%d bytes written, %d read)", key, len(body), len(got))
	}
	Note(ctx, "bucket %s is reachable; wrote, read back and deleted an object under %q", c.bucket, c.prefix)
	return nil
}

// step prefixes an explained error with what was being done, keeping its kind.
func (c *S3) step(what string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Kind: e.Kind, Msg: what + ": " + e.Msg, Err: e.Err}
	}
	return err
}

func (c *S3) probeKey() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return c.prefix + "probe-" + hex.EncodeToString(b), nil
}

func (c *S3) deleteLater(key string) {
	c.cleanups.Add(1)
	go func() {
		defer c.cleanups.Done()
		// The probe's ctx has ended: this delete gets a deadline of its
		// own, the check's timeout, so Close never waits longer.
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if _, err := c.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)}); err != nil {
			c.logger.Warn("s3: could not delete the probe object after a timeout", "bucket", c.bucket, "key", key, "error", Message(c.explain(ctx, err, "s3:DeleteObject")))
		}
	}()
}

// Close waits for background deletes and closes idle connections.
func (c *S3) Close() error {
	c.cleanups.Wait()
	c.CloseIdleConnections()
	return nil
}

// CloseIdleConnections drops the idle keep-alive connections now, as
// http.Client's does.
func (c *S3) CloseIdleConnections() { c.transport.CloseIdleConnections() }

// explain turns an SDK error into a plain message. perm names the IAM
// permission the failed call needs. It never includes the SDK's own text,
// which can carry request details; only codes, statuses and host:port.
func (c *S3) explain(ctx context.Context, err error, perm string) error {
	addr := requestAddr(err, c.addr)
	var uerr *url.Error
	errors.As(err, &uerr)
	wrap := func(kind Kind, format string, args ...any) error {
		return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
	}

	if ctx.Err() != nil {
		return timeoutFailure(ctx, err, c.timeout, addr)
	}
	// Credentials first: a failed fetch from the instance metadata
	// service is a network error too, but the fix is the credentials.
	if credentialsError(err) {
		return wrap(KindUnavailable, "no usable AWS credentials (set access_key_id and secret_access_key, or the AWS environment)")
	}
	if nf := netFailure(ctx, err, c.timeout, addr); nf != nil {
		return nf
	}

	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		status = resp.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket" || (status == 404 && perm == "s3:ListBucket"):
		return wrap(KindUnavailable, "bucket %s not found", c.bucket)
	case code == "NoSuchKey":
		return wrap(KindUnexpected, "object not found")
	case code == "InvalidAccessKeyId":
		return wrap(KindUnavailable, "access key id not recognised (check access_key_id)")
	case code == "SignatureDoesNotMatch":
		return wrap(KindUnavailable, "signature does not match (check secret_access_key)")
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == 301:
		return wrap(KindUnavailable, "bucket %s is not in region %s (check region)", c.bucket, c.regionOf())
	case status == 403 || code == "AccessDenied" || code == "Forbidden":
		return wrap(KindUnavailable, "access denied (check the credentials and %s)", perm)
	case status >= 500:
		if code != "" && code != "InternalError" {
			return wrap(KindUnavailable, "server error %d %s (%s)", status, code, addr)
		}
		return wrap(KindUnavailable, "server error %d (%s)", status, addr)
	case code != "" && status != 0:
		return wrap(KindUnexpected, "server answered %d %s (%s)", status, code, addr)
	case status != 0:
		return wrap(KindUnexpected, "server answered %d (%s)", status, addr)
	}

	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return wrap(KindUnavailable, "%s failed (%s): %v", opErr.Op, addr, opErr.Err)
	}
	if uerr != nil {
		return wrap(KindUnavailable, "request failed (%s): %v", addr, uerr.Err)
	}
	return wrap(KindUnavailable, "request failed (%s)", addr)
}

// credentialsError reports whether err is the SDK failing to get credentials
// (default chain empty, IMDS disabled or unreachable). The SDK words it as an
// untyped "get identity: …" error; older versions used v4.SigningError.
func credentialsError(err error) bool {
	var signErr *v4.SigningError
	return errors.As(err, &signErr) || strings.Contains(err.Error(), "get identity: ") ||
		strings.Contains(err.Error(), "failed to refresh cached credentials")
}

func (c *S3) regionOf() string {
	return c.client.Options().Region
}
