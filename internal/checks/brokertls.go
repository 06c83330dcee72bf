package checks

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// brokerTLS is the tls: section of the message-broker types (kafka, nats,
// mqtt): its presence turns TLS on (for kafka) or tunes the TLS that the
// URL's scheme asks for (nats, mqtt). Verification uses the system roots
// unless ca_file names others.
type brokerTLS struct {
	CAFile             string `key:"ca_file" doc:"PEM file of the CA certificates to verify the server with (default: the system roots)"`
	ServerName         string `key:"server_name" doc:"name to verify the server's certificate against (default: the host connected to)"`
	InsecureSkipVerify bool   `key:"insecure_skip_verify" doc:"do not verify the server's certificate (testing only: anyone on the path can impersonate the server)"`
}

// config returns the tls.Config for the section; it reads ca_file, so it is
// called by Build, never by Validate. A nil section gives a default config.
func (s *brokerTLS) config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s == nil {
		return cfg, nil
	}
	cfg.ServerName = s.ServerName
	cfg.InsecureSkipVerify = s.InsecureSkipVerify
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, &KeyError{Key: "tls.ca_file", Msg: fmt.Sprintf("cannot read: %v", innermost(err))}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &KeyError{Key: "tls.ca_file", Msg: "holds no PEM certificate"}
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
