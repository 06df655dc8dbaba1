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
#   KIND_CLUSTER, KIND_CONFIG                        the kind cluster
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
WEATHER_HELM_TIMEOUT ?= 5m
WEATHER_HELM_ARGS ?=

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
# $(1): extra kubectl flags (the kube context).
define weather_rollout_status
for r in $$($(KUBECTL) $(1) -n $(WEATHER_NAMESPACE) get deployment,statefulset \
		-l app.kubernetes.io/instance=$(WEATHER_RELEASE) -o name); do \
	$(KUBECTL) $(1) -n $(WEATHER_NAMESPACE) rollout status "$$r" --timeout=$(WEATHER_HELM_TIMEOUT); \
done
endef

.PHONY: images
images: ## build the producer, consumer and controller images, tagged $(VERSION) (Docker)
	$(DOCKER) build -f Dockerfile.producer -t $(WEATHER_IMAGE_PRODUCER):$(VERSION) .
	$(DOCKER) build -f Dockerfile.consumer -t $(WEATHER_IMAGE_CONSUMER):$(VERSION) .
	$(DOCKER) build -f Dockerfile.controller -t $(WEATHER_IMAGE_CONTROLLER):$(VERSION) .

.PHONY: kind-up
kind-up: ## kind cluster, images loaded into it, chart installed; waits until ready
	if $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
		echo "kind cluster $(KIND_CLUSTER) already exists"; \
	else \
		$(KIND) create cluster --name $(KIND_CLUSTER) --config $(KIND_CONFIG) --wait 120s; \
	fi
	$(MAKE) --no-print-directory images VERSION=$(VERSION)
	$(KIND) load docker-image --name $(KIND_CLUSTER) \
		$(WEATHER_IMAGE_PRODUCER):$(VERSION) $(WEATHER_IMAGE_CONSUMER):$(VERSION) $(WEATHER_IMAGE_CONTROLLER):$(VERSION)
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
