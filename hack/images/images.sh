# Sourced by hack/images/build.sh, hack/cluster/*.sh and hack/mk/e2e.mk: the
# names of the images the e2e cluster runs. All are built locally (no
# registry is reachable) and imported into the cluster's containerd.
#
# "localhost/" names can never be pulled from a public registry by mistake,
# and none is tagged "latest", so pods with imagePullPolicy IfNotPresent (or
# Never) use the imported image as it is.
# shellcheck shell=bash disable=SC2034  # the variables are used by the sourcing scripts

IMAGE_TAG=${IMAGE_TAG:-e2e}

# The pod sandbox (containerd's sandbox_image).
IMG_PAUSE=localhost/weather-e2e/pause:$IMAGE_TAG
# Static busybox: local-path-provisioner's helper pods (sh, mkdir, rm) and smoke tests.
IMG_BUSYBOX=localhost/weather-e2e/busybox:$IMAGE_TAG
# Cluster add-ons, from the binaries hack/k8s/bins.sh builds.
IMG_COREDNS=localhost/weather-e2e/coredns:$IMAGE_TAG
IMG_LOCAL_PATH=localhost/weather-e2e/local-path-provisioner:$IMAGE_TAG
# The project's images: the chart's default repositories (and the
# Dockerfiles' contents), only the tag differs.
IMG_PRODUCER_REPO=localhost/weather/producer
IMG_CONSUMER_REPO=localhost/weather/consumer
IMG_CONTROLLER_REPO=localhost/weather/controller
# The chart's Kafka image: apache/kafka's layout (/opt/kafka/bin, /opt/kafka/libs),
# built from the Maven Central jars of hack/kafka/pom.xml and a jlink'd JRE.
IMG_KAFKA_REPO=localhost/weather-e2e/kafka
# The tag says which Kafka: the version hack/kafka/pom.xml pins.
IMG_KAFKA_TAG=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' \
	"$(dirname "${BASH_SOURCE[0]}")/../kafka/pom.xml")-$IMAGE_TAG

# KEDA (hack/cluster/keda.sh): its operator and metrics API server, the
# binaries hack/k8s/bins.sh builds of its Go module, as its Dockerfiles put
# them on distroless; its install manifests from the same module. v2.21.1
# needs a newer Go than 1.26. The chart's tests take KEDA's CRDs from this
# version too (kedaVersion in charts/; keda.sh checks that they agree).
KEDA_VERSION=v2.21.0
IMG_KEDA_OPERATOR_REPO=localhost/weather-e2e/keda
IMG_KEDA_ADAPTER_REPO=localhost/weather-e2e/keda-metrics-apiserver
IMG_KEDA_TAG=${KEDA_VERSION#v}-$IMAGE_TAG

# Every image tar build.sh writes, by short name.
IMAGE_NAMES=(pause busybox coredns local-path-provisioner producer consumer controller kafka keda-operator keda-adapter)

# keda_dir: KEDA's module in Go's module cache (downloaded if missing), where
# its binaries are built and its Dockerfiles and manifests are read.
keda_dir() {
	local dir
	dir=$(cd / && GOWORK=off GOFLAGS='' go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | jq -r '.Dir // empty')
	[[ -d $dir ]] || {
		echo "github.com/kedacore/keda/v2@$KEDA_VERSION: not in the module cache and not downloadable" >&2
		return 1
	}
	echo "$dir"
}
