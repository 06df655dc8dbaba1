# The pipeline on Kubernetes: images, a local kind cluster, the Helm chart.
# Included by the root Makefile; needs Docker, kind (v0.31.x, see
# manifests/kind-config.yaml), helm 3 and kubectl on PATH.
#
#   make kind-up     kind cluster + images + chart, waits until all is ready
#   make kind-down   delete the kind cluster (and everything in it)
#   make images      build the three images, tagged $(VERSION)
#   make deploy      helm upgrade --install into the CURRENT kube context
#   make undeploy    helm uninstall from the current kube context
#
# Variables (make VAR=value ...):
#   VERSION            image tag; default: the git commit, plus -dirty-<hash of
#                      the changes> when proto/ or services/ have uncommitted
#                      changes, so every different build gets its own tag and
#                      a deploy of it rolls the pods
#   WEATHER_IMAGE_PRODUCER, WEATHER_IMAGE_CONSUMER, WEATHER_IMAGE_CONTROLLER   image repositories
#   WEATHER_RELEASE, WEATHER_NAMESPACE               Helm release and namespace
#   WEATHER_HELM_ARGS  more helm upgrade arguments, e.g. "--set consumer.replicas=3"
#   WEATHER_HELM_TIMEOUT  how long helm --wait and each rollout wait (10m: a
#                      first run pulls apache/kafka into the node while it waits)
#   KIND_CLUSTER, KIND_CONFIG                        the kind cluster
#   DOCKER_BUILD_FLAGS more docker build flags (make images-check: --network=host)
#
# deploy on a cluster other than kind needs the images where its nodes can
# pull them: push them and set WEATHER_IMAGE_* (and VERSION) accordingly.

DOCKER ?= docker
KIND ?= kind
HELM ?= helm
KUBECTL ?= kubectl

KIND_CLUSTER ?= weather
KIND_CONFIG ?= manifests/kind-config.yaml
WEATHER_CHART ?= charts/weather
WEATHER_RELEASE ?= weather
WEATHER_NAMESPACE ?= weather
WEATHER_IMAGE_PRODUCER ?= localhost/weather/producer
WEATHER_IMAGE_CONSUMER ?= localhost/weather/consumer
WEATHER_IMAGE_CONTROLLER ?= localhost/weather/controller
WEATHER_HELM_TIMEOUT ?= 10m
WEATHER_HELM_ARGS ?=
DOCKER_BUILD_FLAGS ?=

ifeq ($(origin VERSION),undefined)
WEATHER_GIT_SHA := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo nogit)
WEATHER_GIT_DIRTY := $(shell git status --porcelain -- proto services 2>/dev/null | head -n 1)
VERSION := $(WEATHER_GIT_SHA)$(if $(WEATHER_GIT_DIRTY),-dirty-$(shell { git diff HEAD -- proto services; git ls-files -z --others --exclude-standard -- proto services | xargs -0 -r sha256sum; } 2>/dev/null | sha256sum | cut -c1-8))
endif

# helm upgrade --install of the chart with the images of $(VERSION);
# $(1): extra helm flags (the kube context).
define weather_helm_install
$(HELM) upgrade --install $(WEATHER_RELEASE) $(WEATHER_CHART) $(1) \
	--namespace $(WEATHER_NAMESPACE) --create-namespace \
	--set-string producer.image.repository=$(WEATHER_IMAGE_PRODUCER) \
	--set-string producer.image.tag=$(VERSION) \
	--set-string consumer.image.repository=$(WEATHER_IMAGE_CONSUMER) \
	--set-string consumer.image.tag=$(VERSION) \
	--set-string debug.image.repository=$(WEATHER_IMAGE_CONSUMER) \
	--set-string debug.image.tag=$(VERSION) \
	--set-string dashboard.image.repository=$(WEATHER_IMAGE_CONSUMER) \
	--set-string dashboard.image.tag=$(VERSION) \
	--set-string controller.image.repository=$(WEATHER_IMAGE_CONTROLLER) \
	--set-string controller.image.tag=$(VERSION) \
	--wait --timeout $(WEATHER_HELM_TIMEOUT) $(WEATHER_HELM_ARGS)
endef

# kubectl rollout status of every Deployment and StatefulSet of the release;
# $(1): extra kubectl flags (the kube context). A failed kubectl get, or a
# release with nothing to wait for, fails (not a loop over nothing).
define weather_rollout_status
workloads=$$($(KUBECTL) $(1) -n $(WEATHER_NAMESPACE) get deployment,statefulset \
	-l app.kubernetes.io/instance=$(WEATHER_RELEASE) -o name); \
if [ -z "$$workloads" ]; then \
	echo "rollout: no Deployment or StatefulSet of release $(WEATHER_RELEASE) in namespace $(WEATHER_NAMESPACE)" >&2; exit 1; \
fi; \
for r in $$workloads; do \
	$(KUBECTL) $(1) -n $(WEATHER_NAMESPACE) rollout status "$$r" --timeout=$(WEATHER_HELM_TIMEOUT); \
done
endef

WEATHER_IMAGES = $(WEATHER_IMAGE_PRODUCER):$(VERSION) $(WEATHER_IMAGE_CONSUMER):$(VERSION) $(WEATHER_IMAGE_CONTROLLER):$(VERSION)

# The images into the kind node. kind load docker-image imports `docker
# save`'s archive for all platforms; with Docker's containerd image store
# (the default from Docker 29) that archive can name content the store does
# not hold and the import fails with "content digest ... not found"
# (kubernetes-sigs/kind#3795). Then: this platform's images only
# (docker save --platform), loaded with kind load image-archive.
define weather_kind_load
if $(DOCKER) info -f '{{ .DriverStatus }}' | grep -q 'io.containerd.snapshotter'; then \
	platform=$$($(DOCKER) version -f '{{ .Server.Os }}/{{ .Server.Arch }}'); \
	archive=$$(mktemp --suffix=.tar); trap 'rm -f "$$archive"' EXIT; \
	echo "kind-up: Docker's containerd image store: docker save --platform $$platform | kind load image-archive (kind#3795)"; \
	$(DOCKER) save --platform "$$platform" -o "$$archive" $(WEATHER_IMAGES); \
	$(KIND) load image-archive --name $(KIND_CLUSTER) "$$archive"; \
else \
	$(KIND) load docker-image --name $(KIND_CLUSTER) $(WEATHER_IMAGES); \
fi
endef

# BuildKit (the Dockerfiles use RUN --mount); with Docker 23 and later the
# docker CLI needs its buildx plugin for that, and says so.
.PHONY: images
images: ## build the producer, consumer and controller images, tagged $(VERSION) (Docker with BuildKit)
	DOCKER_BUILDKIT=1 $(DOCKER) build $(DOCKER_BUILD_FLAGS) -f Dockerfile.producer -t $(WEATHER_IMAGE_PRODUCER):$(VERSION) .
	DOCKER_BUILDKIT=1 $(DOCKER) build $(DOCKER_BUILD_FLAGS) -f Dockerfile.consumer -t $(WEATHER_IMAGE_CONSUMER):$(VERSION) .
	DOCKER_BUILDKIT=1 $(DOCKER) build $(DOCKER_BUILD_FLAGS) -f Dockerfile.controller -t $(WEATHER_IMAGE_CONTROLLER):$(VERSION) .

.PHONY: images-check
images-check: ## make images for real on this machine without a registry: a dockerd of its own, local stand-ins of golang, distroless and docker/dockerfile:1; the images inspected and run (root, Debian 12; ~5 min, ~40 s with DOCKER_KEEP=1)
	hack/images/docker-check.sh

.PHONY: kind-up
kind-up: ## kind cluster, images loaded into it, chart installed; waits until ready
	if $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
		echo "kind cluster $(KIND_CLUSTER) already exists"; \
	else \
		$(KIND) create cluster --name $(KIND_CLUSTER) --config $(KIND_CONFIG) --wait 120s; \
	fi
	$(MAKE) --no-print-directory images VERSION=$(VERSION)
	$(weather_kind_load)
	$(call weather_helm_install,--kube-context kind-$(KIND_CLUSTER))
	$(call weather_rollout_status,--context kind-$(KIND_CLUSTER))
	@echo "kind-up: release $(WEATHER_RELEASE) ($(VERSION)) is ready in kind-$(KIND_CLUSTER), namespace $(WEATHER_NAMESPACE)." \
		"See: $(HELM) --kube-context kind-$(KIND_CLUSTER) -n $(WEATHER_NAMESPACE) get notes $(WEATHER_RELEASE)"

.PHONY: kind-down
kind-down: ## delete the kind cluster with everything in it
	$(KIND) delete cluster --name $(KIND_CLUSTER)

.PHONY: deploy
deploy: ## helm upgrade --install into the current kube context (images $(VERSION) must be pullable there)
	$(call weather_helm_install,)
	$(call weather_rollout_status,)

.PHONY: undeploy
undeploy: ## helm uninstall from the current kube context (the stats and Kafka volumes are kept)
	$(HELM) uninstall $(WEATHER_RELEASE) --namespace $(WEATHER_NAMESPACE) --wait
	@echo "undeploy: kept the PersistentVolumeClaims (the stats, Kafka's log); to drop them:" \
		"$(KUBECTL) -n $(WEATHER_NAMESPACE) delete pvc -l app.kubernetes.io/instance=$(WEATHER_RELEASE)"
