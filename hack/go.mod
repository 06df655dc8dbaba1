module github.com/weatherstream/weather/hack

go 1.26.0

tool google.golang.org/protobuf/cmd/protoc-gen-go

require (
	github.com/bufbuild/protocompile v0.14.1
	github.com/twmb/franz-go/pkg/kadm v1.20.0
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c
	google.golang.org/protobuf v1.36.12
)

require github.com/caarlos0/env/v11 v11.4.2 // indirect

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kmsg v1.15.1
	github.com/weatherstream/weather/services/common v0.0.0
	golang.org/x/sync v0.22.0 // indirect
)

replace github.com/weatherstream/weather/services/common => ../services/common

replace github.com/weatherstream/weather/proto => ../proto
