package secure

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/services/common/snapshot"
)

// Resources are the names a deployment gives the things a service touches.
type Resources struct {
	Topic           string // TOPIC (its snapshot topic's name follows: snapshot.Topic)
	TransactionalID string // the producer's TRANSACTIONAL_ID
	Group           string // the debug consumer's GROUP
	MonitoringGroup string // the stats consumers' MONITORING_GROUP
}

// Defaults are the services' own defaults.
var Defaults = Resources{Topic: "temperatures", TransactionalID: "weather-producer", Group: "debug", MonitoringGroup: "weather-stats"}

// The kinds of resource an ACL is on, as kafka-acls.sh names them.
const (
	onTopic           = "topic"
	onGroup           = "group"
	onTransactionalID = "transactional-id"
	onCluster         = "cluster"
)

// The services, by the names of their principals.
const (
	Producer   = "producer"
	Consumer   = "consumer"
	Debug      = "debug"
	Controller = "controller"
	Dashboard  = "dashboard"
)

// ACL is one right on one resource. Read and Write imply Describe in Kafka's
// authorizer, so Describe is listed only where it is the whole need.
type ACL struct {
	Resource  string // topic, group, transactional-id or cluster
	Name      string // empty for the cluster
	Operation kadm.ACLOperation
	Why       string
}

// Services are the services that talk to Kafka, in the order
// docs/security.md lists them.
var Services = []string{Producer, Consumer, Debug, Controller, Dashboard}

// ServiceACLs are the rights one service needs, and no more: a test removes
// each in turn and sees the service fail, and grants them all and sees the
// pipeline's files equal the generator's stats.
func ServiceACLs(service string, r Resources) []ACL {
	topic := func(op kadm.ACLOperation, why string) ACL { return ACL{onTopic, r.Topic, op, why} }
	snapshots := func(op kadm.ACLOperation, why string) ACL { return ACL{onTopic, snapshot.Topic(r.Topic), op, why} }
	switch service {
	case Producer:
		return []ACL{
			topic(kadm.OpCreate, "creates the topic when it is missing"),
			topic(kadm.OpWrite, "writes the reports"),
			topic(kadm.OpRead, "reads its own stream back to resume after the last committed report"),
			// No IdempotentWrite on the cluster: since Kafka 3.0 (KIP-679)
			// Write on the transactional id is enough for its producer ID.
			{onTransactionalID, r.TransactionalID, kadm.OpWrite, "its transactions, and fencing an older instance"},
		}
	case Consumer:
		return []ACL{
			topic(kadm.OpRead, "reads its partitions"),
			snapshots(kadm.OpCreate, "creates the snapshot topic when it is missing"),
			snapshots(kadm.OpWrite, "publishes its partitions' states"),
			snapshots(kadm.OpRead, "restores a partition from its newest snapshot"),
			{onGroup, r.MonitoringGroup, kadm.OpRead, "commits its checkpointed offsets there, for every Kafka tool to show the lag (never reads them back)"},
		}
	case Debug:
		return []ACL{
			topic(kadm.OpRead, "reads every record"),
			{onGroup, r.Group, kadm.OpRead, "joins its consumer group and commits its offsets there"},
		}
	case Controller:
		return []ACL{topic(kadm.OpDescribe, "counts the topic's partitions")}
	case Dashboard:
		return []ACL{
			topic(kadm.OpRead, "reads the newest reports (the latest maxima) and the log's offsets"),
			snapshots(kadm.OpRead, "follows the partitions' states"),
		}
	}
	return nil
}

// builder is the kadm form of one ACL for a principal, from any host.
func (a ACL) builder(principal string) *kadm.ACLBuilder {
	b := kadm.NewACLs().Allow(principal).AllowHosts().Operations(a.Operation).ResourcePatternType(kadm.ACLPatternLiteral)
	switch a.Resource {
	case onTopic:
		b.Topics(a.Name)
	case onGroup:
		b.Groups(a.Name)
	case onTransactionalID:
		b.TransactionalIDs(a.Name)
	case onCluster:
		b.Clusters()
	}
	return b
}

// Grant creates the ACLs for principal (e.g. User:producer).
func Grant(ctx context.Context, adm *kadm.Client, principal string, acls ...ACL) error {
	return change(ctx, adm, principal, acls, true, func(b *kadm.ACLBuilder) error {
		results, err := adm.CreateACLs(ctx, b)
		return joined(err, results, func(r kadm.CreateACLsResult) error { return r.Err })
	})
}

// Revoke deletes the ACLs of principal.
func Revoke(ctx context.Context, adm *kadm.Client, principal string, acls ...ACL) error {
	return change(ctx, adm, principal, acls, false, func(b *kadm.ACLBuilder) error {
		results, err := adm.DeleteACLs(ctx, b)
		return joined(err, results, func(r kadm.DeleteACLsResult) error { return r.Err })
	})
}

// joined is a request's error and its results' errors.
func joined[T any](err error, results []T, errOf func(T) error) error {
	for _, r := range results {
		err = errors.Join(err, errOf(r))
	}
	return err
}

// change applies a create or a delete to each ACL and waits until the
// broker holds it (present) or no longer does.
func change(ctx context.Context, adm *kadm.Client, principal string, acls []ACL, present bool, apply func(*kadm.ACLBuilder) error) error {
	for _, a := range acls {
		err := apply(a.builder(principal))
		if err == nil {
			err = visible(ctx, adm, principal, a, present)
		}
		if err != nil {
			return fmt.Errorf("%s %s %s: %w", map[bool]string{true: "grant", false: "revoke"}[present], principal, a, err)
		}
	}
	return nil
}

// visible waits until the broker's authorizer holds the ACL (or no longer
// does): the controller commits a change before the brokers apply it, and
// a broker describes ACLs from the authorizer it checks requests with.
func visible(ctx context.Context, adm *kadm.Client, principal string, a ACL, present bool) error {
	for {
		results, err := adm.DescribeACLs(ctx, a.builder(principal))
		if err != nil {
			return err
		}
		found := false
		for _, r := range results {
			if r.Err != nil {
				return r.Err
			}
			found = found || len(r.Described) > 0
		}
		if found == present {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the broker never applied the change: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// String is the right as a person reads it: "Write on topic temperatures".
func (a ACL) String() string {
	if a.Resource == onCluster {
		return operationName(a.Operation) + " on the cluster"
	}
	return fmt.Sprintf("%s on %s %s", operationName(a.Operation), a.Resource, a.Name)
}

// Command is the kafka-acls.sh line that grants the ACL.
func (a ACL) Command(principal string) string {
	resource := "--cluster"
	if a.Resource != onCluster {
		resource = fmt.Sprintf("--%s %s", a.Resource, a.Name)
	}
	return fmt.Sprintf("kafka-acls.sh --bootstrap-server $BOOTSTRAP --command-config admin.properties --add --allow-principal %s --operation %s %s",
		principal, operationName(a.Operation), resource)
}

// operationName is the operation as kafka-acls.sh spells it (IdempotentWrite).
func operationName(op kadm.ACLOperation) string {
	var b strings.Builder
	for _, word := range strings.Split(strings.ToLower(op.String()), "_") {
		if word != "" {
			b.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
	}
	return b.String()
}

// Commands are the kafka-acls.sh lines that grant each service its ACLs,
// one principal per service: docs/security.md ("The ACLs each service
// needs") holds them as printed here (a test checks).
func Commands(r Resources) string {
	var b strings.Builder
	for _, svc := range Services {
		fmt.Fprintf(&b, "# %s\n", svc)
		for _, a := range ServiceACLs(svc, r) {
			fmt.Fprintln(&b, a.Command("User:"+svc))
		}
	}
	return b.String()
}

// Markdown is the same as a table, with why each right is needed.
func Markdown(r Resources) string {
	var b strings.Builder
	b.WriteString("| service | principal | right | why |\n| --- | --- | --- | --- |\n")
	for _, svc := range Services {
		for _, a := range ServiceACLs(svc, r) {
			fmt.Fprintf(&b, "| %s | `User:%s` | %s | %s |\n", svc, svc, a, a.Why)
		}
	}
	return b.String()
}
