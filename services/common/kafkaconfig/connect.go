package kafkaconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Connect makes a client and waits, up to ConnectTimeout, until a broker
// answers, so an unreachable cluster is one clear error at start rather than
// endless retries in the background. A refusal that retrying cannot change
// (a wrong password, an untrusted certificate) ends the wait at once.
func Connect(parent context.Context, c Config, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(parent, c.ConnectTimeout)
	defer cancel()
	for {
		err = client.Ping(ctx)
		if err == nil {
			return client, nil
		}
		if refusal, ok := c.explain(err); ok {
			client.Close()
			return nil, refusal
		}
		select {
		case <-ctx.Done():
			client.Close()
			if parent.Err() != nil {
				return nil, parent.Err() // stopped (SIGTERM), not unreachable
			}
			return nil, fmt.Errorf("kafka at %s unreachable after %s: %w", c.brokers(), c.ConnectTimeout, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c Config) brokers() string { return strings.Join(c.Brokers, ",") }

// denials are the broker's answers to a principal that lacks an ACL.
var denials = []error{
	kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
	kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed,
}

// Denied says whether err is the broker's answer to a principal that
// lacks an ACL: retrying cannot change it, so a service stops on it.
func Denied(err error) bool {
	for _, denial := range denials {
		if errors.Is(err, denial) {
			return true
		}
	}
	return false
}

// Permanent says whether err is a refusal that retrying cannot change: a
// denial, a failed SASL authentication, a certificate either side rejects.
// A service stops on it, with Explain's line, rather than retry.
func Permanent(err error) bool {
	_, ok := Config{}.explain(err)
	return ok
}

// Explain turns a refusal that retrying cannot change into one line that
// names the setting to look at, and returns any other error unchanged. Call
// it on errors from the broker; errors.Is still finds the broker's code.
func (c Config) Explain(err error) error {
	if refusal, ok := c.explain(err); ok {
		return refusal
	}
	if errors.Is(err, kerr.UnknownServerError) {
		// Kafka's answer when it fails in a way it does not name: the
		// reason is in the broker's log (the embedded broker's full disk).
		return fmt.Errorf("%w (the broker at %s failed to handle the request: its log says why, e.g. a full disk under its log directory)", err, c.brokers())
	}
	return err
}

// explain is Explain's line for a refusal, and whether err is one.
func (c Config) explain(err error) (error, bool) {
	if err == nil {
		return nil, false
	}
	var (
		explained *refusal
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		header    tls.RecordHeaderError
		op        *net.OpError
	)
	switch {
	case errors.As(err, &explained):
		return err, true // once is enough
	case Denied(err):
		return refused(fmt.Errorf("kafka at %s denied %s: %w: it lacks an ACL this service needs (docs/security.md: The ACLs each service needs)", c.brokers(), c.Principal(), err)), true
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return refused(fmt.Errorf("kafka at %s refused %s (%s): %w: check KAFKA_SASL_USERNAME and the password (KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE)",
			c.brokers(), c.Principal(), strings.ToUpper(c.SASLMechanism), err)), true
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return refused(fmt.Errorf("kafka at %s does not take KAFKA_SASL_MECHANISM %s on that listener: %w", c.brokers(), strings.ToUpper(c.SASLMechanism), err)), true
	case errors.As(err, &unknownCA):
		ca := "KAFKA_TLS_CA_FILE " + c.TLSCAFile
		if c.TLSCAFile == "" {
			ca = "the system's roots; set KAFKA_TLS_CA_FILE to the CA that signed it"
		}
		return refused(fmt.Errorf("kafka at %s: its certificate is not signed by a CA we trust (%s): %w", c.brokers(), ca, err)), true
	case errors.As(err, &hostname):
		return refused(fmt.Errorf("kafka at %s: its certificate is not valid for %q (KAFKA_TLS_SERVER_NAME sets the name to check): %w", c.brokers(), hostname.Host, err)), true
	case errors.As(err, &invalid):
		return refused(fmt.Errorf("kafka at %s: its certificate is invalid: %w", c.brokers(), err)), true
	case errors.As(err, &header):
		return refused(fmt.Errorf("kafka at %s does not speak TLS on that port (KAFKA_TLS is on): %w", c.brokers(), err)), true
	case errors.As(err, &op) && op.Op == "remote error" && strings.Contains(op.Err.Error(), "tls:"):
		return refused(fmt.Errorf("kafka at %s rejected the TLS handshake: %w: it wants a client certificate signed by a CA it trusts (KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE)",
			c.brokers(), err)), true
	}
	return err, false
}

// refusal is an error Explain made: errors.Is still finds the broker's
// code in it, and Explain leaves it as it is.
type refusal struct{ err error }

func refused(err error) error    { return &refusal{err} }
func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }
