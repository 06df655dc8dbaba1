// Package kafkaconfig holds the Kafka connection settings every service reads
// from the environment, and turns them into franz-go client options.
package kafkaconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is the connection to the cluster and the topic of reports.
type Config struct {
	Brokers        []string      `env:"KAFKA_BROKERS" envSeparator:"," envDefault:"127.0.0.1:9092"`
	Topic          string        `env:"TOPIC" envDefault:"temperatures"`
	ConnectTimeout time.Duration `env:"KAFKA_CONNECT_TIMEOUT" envDefault:"30s"`
	TLS            bool          `env:"KAFKA_TLS"`
	TLSCAFile      string        `env:"KAFKA_TLS_CA_FILE"`
	SASLMechanism  string        `env:"KAFKA_SASL_MECHANISM"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	SASLUser       string        `env:"KAFKA_SASL_USERNAME"`
	SASLPassword   string        `env:"KAFKA_SASL_PASSWORD"`
}

// Opts returns the client options for the connection settings.
func (c Config) Opts() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 || c.Brokers[0] == "" {
		return nil, errors.New("KAFKA_BROKERS is empty")
	}
	if c.Topic == "" {
		return nil, errors.New("TOPIC is empty")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLS || c.TLSCAFile != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
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
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch m := strings.ToUpper(c.SASLMechanism); m {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("KAFKA_SASL_MECHANISM %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	return opts, nil
}

// Connect makes a client and waits, up to ConnectTimeout, until a broker
// answers, so an unreachable cluster is one clear error at start rather than
// endless retries in the background.
func Connect(ctx context.Context, c Config, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	for {
		err = client.Ping(ctx)
		if err == nil {
			return client, nil
		}
		select {
		case <-ctx.Done():
			client.Close()
			return nil, fmt.Errorf("kafka at %s unreachable after %s: %w", strings.Join(c.Brokers, ","), c.ConnectTimeout, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
