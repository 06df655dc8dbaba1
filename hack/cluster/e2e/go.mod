// The end-to-end test of the Helm chart on the cluster of hack/cluster/up.sh
// (run by hack/cluster/e2e.sh / make test-e2e). Its own module, deliberately
// NOT in go.work: it needs a running cluster, and `make test` must not pick
// it up. Always use GOWORK=off.
module github.com/weatherstream/weather/hack/cluster/e2e

go 1.26.0

require (
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kadm v1.20.0
	github.com/weatherstream/weather/hack v0.0.0
	github.com/weatherstream/weather/services/common v0.0.0
)

require (
	github.com/caarlos0/env/v11 v11.4.2 // indirect
	github.com/go-json-experiment/json v1.27.2 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/twmb/franz-go/pkg/kmsg v1.15.1 // indirect
	github.com/weatherstream/weather/proto v0.0.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/weatherstream/weather/proto => ../../../proto

replace github.com/weatherstream/weather/services/common => ../../../services/common

replace github.com/weatherstream/weather/hack => ../..
