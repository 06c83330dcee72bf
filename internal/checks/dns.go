package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS resolves a name and expects answers: given ones, or at least one.
// Without a server it asks the system resolver (net.Resolver: /etc/hosts,
// resolv.conf); with one it sends the query itself (github.com/miekg/dns),
// so the server's own answer (NXDOMAIN, SERVFAIL) is seen.
type DNS struct {
	name     string
	record   string
	qtype    uint16
	server   string
	expect   []string
	timeout  time.Duration
	udp      *dns.Client
	tcp      *dns.Client
	resolver *net.Resolver
}

type dnsConfig struct {
	Domain string   `key:"domain" required:"true" doc:"the name to resolve, such as db.internal or _sip._tcp.example.com"`
	Record string   `key:"record" enum:"A,AAAA,CNAME,MX,SRV,TXT" doc:"the record type to ask for"`
	Server string   `key:"server" default:"the system resolver" doc:"host:port of the DNS server to ask (UDP, then TCP when the answer is truncated)"`
	Expect []string `key:"expect" doc:"answers that must all be present: addresses (A, AAAA), names (CNAME, MX, SRV), host:port (SRV) or texts (TXT); without it, any answer passes"`
}

var dnsTypes = map[string]uint16{"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX, "SRV": dns.TypeSRV, "TXT": dns.TypeTXT}

func newDNSConfig(Settings) Config { return &dnsConfig{Record: "A"} }

func (c *dnsConfig) Validate() error {
	var p Problems
	if c.Domain != "" {
		if _, ok := dns.IsDomainName(c.Domain); !ok {
			p.Add("domain", "is not a valid domain name")
		}
	}
	if c.Server != "" {
		if msg := checkHostPort(c.Server); msg != "" {
			p.Add("server", "%s", msg)
		}
	}
	for i, e := range c.Expect {
		switch c.Record {
		case "A", "AAAA":
			ip := net.ParseIP(e)
			if ip == nil || (c.Record == "A") != (ip.To4() != nil) {
				p.Add(fmt.Sprintf("expect[%d]", i), "must be an IPv%s address for record %s, not %q", map[string]string{"A": "4", "AAAA": "6"}[c.Record], c.Record, e)
			}
		case "":
		default:
			if strings.TrimSpace(e) == "" {
				p.Add(fmt.Sprintf("expect[%d]", i), "must not be empty")
			}
		}
	}
	return p.Err()
}

func (c *dnsConfig) Build(env Env) (Checker, error) {
	d := &DNS{
		name: c.Domain, record: c.Record, qtype: dnsTypes[c.Record], server: c.Server,
		expect: c.Expect, timeout: env.Timeout,
	}
	if c.Server != "" {
		d.udp = &dns.Client{Net: "udp", Timeout: env.Timeout}
		d.tcp = &dns.Client{Net: "tcp", Timeout: env.Timeout}
	} else {
		d.resolver = &net.Resolver{}
	}
	return d, nil
}

// where names the server asked, for messages.
func (d *DNS) where() string {
	if d.server == "" {
		return "system resolver"
	}
	return d.server
}

// Check resolves the name once.
func (d *DNS) Check(ctx context.Context) error {
	start := time.Now()
	var answers [][]string // each answer's accepted spellings
	var err error
	if d.server != "" {
		answers, err = d.exchange(ctx)
	} else {
		answers, err = d.lookup(ctx)
	}
	if err != nil {
		return err
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	Observe(ctx, "resolutionTime", ms, "ms")
	if len(answers) == 0 {
		return Unexpected("no %s record for %s (%s)", d.record, d.name, d.where())
	}
	var missing []string
	for _, e := range d.expect {
		if !slices.ContainsFunc(answers, func(forms []string) bool {
			return slices.Contains(forms, e) || slices.Contains(forms, normalizeAnswer(e))
		}) {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		got := make([]string, len(answers))
		for i, a := range answers {
			got[i] = a[0]
		}
		return Unexpected("%s %s: expected %s, got %s (%s)", d.name, d.record, strings.Join(missing, ", "), strings.Join(got, ", "), d.where())
	}
	first := answers[0][0]
	if len(answers) > 1 {
		first += fmt.Sprintf(" and %d more", len(answers)-1)
	}
	Note(ctx, "%s %s %s in %.1f ms (%s)", d.name, d.record, first, ms, d.where())
	return nil
}

// exchange asks the server: over UDP, and again over TCP when the answer
// was truncated.
func (d *DNS) exchange(ctx context.Context) ([][]string, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(d.name), d.qtype)
	q.RecursionDesired = true
	resp, _, err := d.udp.ExchangeContext(ctx, q, d.server)
	where := d.server
	if err == nil && resp.Truncated {
		// Say so when the retry fails: a UDP query to the same server (dig's)
		// works, so "refused" alone would send the reader the wrong way.
		where += ", over TCP after a truncated UDP answer"
		resp, _, err = d.tcp.ExchangeContext(ctx, q, d.server)
	}
	if err != nil {
		return nil, dialFailure(ctx, err, d.timeout, where)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, Unexpected("no such name %s (NXDOMAIN) (%s)", d.name, d.server)
	case dns.RcodeServerFailure:
		return nil, Unavailable("server failed to answer for %s (SERVFAIL) (%s)", d.name, d.server)
	case dns.RcodeRefused:
		return nil, Unavailable("server refused the query for %s (REFUSED) (%s)", d.name, d.server)
	default:
		return nil, Unexpected("server answered %s for %s (%s)", dns.RcodeToString[resp.Rcode], d.name, d.server)
	}
	var out [][]string
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype != d.qtype {
			continue // the CNAME chain before an A answer
		}
		switch r := rr.(type) {
		case *dns.A:
			out = append(out, []string{r.A.String()})
		case *dns.AAAA:
			out = append(out, []string{r.AAAA.String()})
		case *dns.CNAME:
			out = append(out, []string{normalizeAnswer(r.Target)})
		case *dns.MX:
			out = append(out, mxForms(r.Mx, r.Preference))
		case *dns.SRV:
			out = append(out, srvForms(r.Target, r.Port, r.Priority, r.Weight))
		case *dns.TXT:
			out = append(out, []string{strings.Join(r.Txt, "")})
		}
	}
	return out, nil
}

// lookup asks the system resolver, bounded by ctx.
func (d *DNS) lookup(ctx context.Context) ([][]string, error) {
	var out [][]string
	var err error
	switch d.record {
	case "A", "AAAA":
		network := map[string]string{"A": "ip4", "AAAA": "ip6"}[d.record]
		var ips []net.IP
		ips, err = d.resolver.LookupIP(ctx, network, d.name)
		for _, ip := range ips {
			out = append(out, []string{ip.String()})
		}
	case "CNAME":
		var cname string
		cname, err = d.resolver.LookupCNAME(ctx, d.name)
		if err == nil && normalizeAnswer(cname) != normalizeAnswer(d.name) {
			out = append(out, []string{normalizeAnswer(cname)})
		}
	case "MX":
		var mxs []*net.MX
		mxs, err = d.resolver.LookupMX(ctx, d.name)
		for _, mx := range mxs {
			out = append(out, mxForms(mx.Host, mx.Pref))
		}
	case "SRV":
		var srvs []*net.SRV
		_, srvs, err = d.resolver.LookupSRV(ctx, "", "", d.name)
		for _, s := range srvs {
			out = append(out, srvForms(s.Target, s.Port, s.Priority, s.Weight))
		}
	case "TXT":
		var txts []string
		txts, err = d.resolver.LookupTXT(ctx, d.name)
		for _, t := range txts {
			out = append(out, []string{t})
		}
	}
	if err != nil {
		var dnsErr *net.DNSError
		switch {
		case ctx.Err() != nil:
			return nil, timeoutFailure(ctx, err, d.timeout, d.where())
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return nil, Unexpected("no %s record for %s (%s)", d.record, d.name, d.where())
		case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
			return nil, timeoutFailure(ctx, err, d.timeout, d.where())
		case errors.As(err, &dnsErr):
			return nil, &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("cannot resolve %s: %s (%s)", d.name, dnsErr.Err, d.where()), Err: err}
		}
		return nil, dialFailure(ctx, err, d.timeout, d.where())
	}
	return out, nil
}

// normalizeAnswer makes names comparable: lower case, no final dot.
func normalizeAnswer(s string) string {
	s = strings.TrimSpace(s)
	if net.ParseIP(s) != nil {
		return net.ParseIP(s).String()
	}
	return strings.ToLower(strings.TrimSuffix(s, "."))
}

// mxForms are the spellings an expect entry may use for an MX answer:
// "mail.example.com" or "10 mail.example.com".
func mxForms(host string, pref uint16) []string {
	h := normalizeAnswer(host)
	return []string{h, strconv.Itoa(int(pref)) + " " + h}
}

// srvForms: "target", "target:port" or "priority weight port target".
func srvForms(target string, port, prio, weight uint16) []string {
	t := normalizeAnswer(target)
	p := strconv.Itoa(int(port))
	return []string{net.JoinHostPort(t, p), t, fmt.Sprintf("%d %d %s %s", prio, weight, p, t)}
}
