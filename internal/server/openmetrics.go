package server

import (
	"bytes"
	"fmt"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// renderOpenMetrics writes the response's overall series and the selected
// checks' series, the same names and labels as /metrics. The gauges come
// from the results this response used, so they agree with its status code;
// the runs counter and the duration histogram come from the process's
// registry (absent when the server has none).
func (st *State) renderOpenMetrics(v view) ([]byte, error) {
	resp, err := responseFamilies(v)
	if err != nil {
		return nil, err
	}
	fams, err := st.proc.opts.Metrics.CheckFamilies(v.snaps)
	if err != nil {
		return nil, err
	}
	return encodeOpenMetrics(append(resp, fams...))
}

// renderOpenMetricsOverall is what a caller without a token gets: the
// response's own series, none of a check.
func renderOpenMetricsOverall(v view) ([]byte, error) {
	fams, err := responseFamilies(v)
	if err != nil {
		return nil, err
	}
	return encodeOpenMetrics(fams)
}

func encodeOpenMetrics(fams []*dto.MetricFamily) ([]byte, error) {
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeOpenMetrics))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			return nil, fmt.Errorf("openmetrics: %w", err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil { // writes "# EOF"
			return nil, fmt.Errorf("openmetrics: %w", err)
		}
	}
	return b.Bytes(), nil
}
