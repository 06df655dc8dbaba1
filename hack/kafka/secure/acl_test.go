package secure

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// docs/security.md ("The ACLs each service needs") gives users the ACLs the
// tests prove: the same table and the same commands, as printed here.
func TestSecurityPageHoldsTheACLsTheTestsProve(t *testing.T) {
	page, err := os.ReadFile("../../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	for what, want := range map[string]string{
		"table":    Markdown(Defaults),
		"commands": "```sh\n" + Commands(Defaults) + "```\n",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("docs/security.md lacks the ACL %s; make it (go run ./hack/kafka/securekafka acls):\n%s", what, want)
		}
	}
}

func TestEveryServiceHasRightsOnItsOwnResourcesOnly(t *testing.T) {
	r := Resources{Topic: "t", TransactionalID: "x", Group: "g", MonitoringGroup: "m"}
	own := map[string][]string{"topic": {"t", "t-snapshots"}, "transactional-id": {"x"}, "group": {"g", "m"}}
	for _, svc := range Services {
		acls := ServiceACLs(svc, r)
		if len(acls) == 0 {
			t.Errorf("%s: no ACLs", svc)
		}
		for _, a := range acls {
			if !slices.Contains(own[a.Resource], a.Name) || a.Operation == kadm.OpAll || a.Operation == kadm.OpAny || a.Why == "" {
				t.Errorf("%s: %v (%q) is not a named right on the service's own resource", svc, a, a.Why)
			}
		}
	}
	if ServiceACLs("stranger", r) != nil {
		t.Error("an unknown service has ACLs")
	}
}

func TestOperationNamesAreKafkaACLsSpelling(t *testing.T) {
	for op, want := range map[kadm.ACLOperation]string{
		kadm.OpRead: "Read", kadm.OpDescribe: "Describe", kadm.OpIdempotentWrite: "IdempotentWrite", kadm.OpDescribeConfigs: "DescribeConfigs",
	} {
		if got := operationName(op); got != want {
			t.Errorf("%v: %q, want %q", op, got, want)
		}
	}
}
