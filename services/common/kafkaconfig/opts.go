package kafkaconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Opts returns the client options for the connection settings.
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	cfg, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	mechanism, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	if mechanism != nil {
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}

// TLSConfig is the TLS of the connection, nil without TLS: Opts' dialer,
// or one of the caller's own. franz-go sets ServerName to each broker's
// host unless it is set here.
func (c Config) TLSConfig() (*tls.Config, error) {
	if !c.useTLS() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("KAFKA_TLS_CA_FILE %s holds no PEM certificate", c.TLSCAFile)
		}
	}
	switch {
	case c.TLSCertFile == "" && c.TLSKeyFile == "":
	case c.TLSCertFile == "":
		return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE is empty although KAFKA_TLS_KEY_FILE is %s: mutual TLS needs both", c.TLSKeyFile)
	case c.TLSKeyFile == "":
		return nil, fmt.Errorf("KAFKA_TLS_KEY_FILE is empty although KAFKA_TLS_CERT_FILE is %s: mutual TLS needs both", c.TLSCertFile)
	default:
		pair, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_TLS_CERT_FILE %s and KAFKA_TLS_KEY_FILE %s: %w", c.TLSCertFile, c.TLSKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// certSubject is the subject of the first certificate in a PEM file.
func certSubject(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return "", fmt.Errorf("%s holds no certificate", file)
		}
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return "", err
			}
			return cert.Subject.String(), nil
		}
	}
}

// saslMechanism is the SASL of the connection, nil without SASL.
func (c Config) saslMechanism() (sasl.Mechanism, error) {
	m := strings.ToUpper(c.SASLMechanism)
	switch m {
	case "":
		if c.SASLPasswordFile != "" || c.SASLPassword != "" || c.SASLUser != "" {
			return nil, fmt.Errorf("KAFKA_SASL_MECHANISM is empty although a SASL user or password is set: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		}
		return nil, nil
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return nil, fmt.Errorf("KAFKA_SASL_MECHANISM %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	if c.SASLUser == "" {
		return nil, fmt.Errorf("KAFKA_SASL_USERNAME is empty although KAFKA_SASL_MECHANISM is %s", c.SASLMechanism)
	}
	password := c.SASLPassword
	switch {
	case c.SASLPasswordFile != "" && c.SASLPassword != "":
		return nil, fmt.Errorf("KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: want one")
	case c.SASLPasswordFile != "":
		data, err := os.ReadFile(c.SASLPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("KAFKA_SASL_PASSWORD_FILE: %w", err)
		}
		// A file written by echo or a Secret made with a trailing newline.
		password = strings.TrimRight(string(data), "\r\n")
	}
	if password == "" {
		return nil, fmt.Errorf("KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE is required with KAFKA_SASL_MECHANISM %s (empty password)", c.SASLMechanism)
	}
	switch m {
	case "PLAIN":
		return plain.Auth{User: c.SASLUser, Pass: password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.SASLUser, Pass: password}.AsSha256Mechanism(), nil
	default:
		return scram.Auth{User: c.SASLUser, Pass: password}.AsSha512Mechanism(), nil
	}
}
