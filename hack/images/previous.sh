#!/usr/bin/env bash
# The images and the chart of an earlier commit, for the e2e's upgrade step
# (hack/cluster/e2e/upgrade_test.go): that commit's own tree, built with its
# own hack/images/build.sh, so the release it installs runs its own services
# and writes its files its own way.
#
#   hack/images/previous.sh [COMMIT]   default: PREVIOUS_COMMIT below
#
# Writes, under ${PREVIOUS_DIR:-<repo>/.cache/previous}/COMMIT/:
#   src/       the commit's tree (git archive: nothing is checked out, the
#              repository's work tree and worktree list are left alone)
#   images/    its producer, consumer, controller and kafka images
#              (docker-archive tars), tagged IMAGE_TAG=prev-COMMIT, so they
#              sit beside the current ones (tag e2e) in the cluster's
#              containerd; its Kafka image is 4.1.1-prev-COMMIT
# and prints one line on stdout: shell assignments for hack/cluster/e2e.sh
#   PREVIOUS_CHART=… PREVIOUS_IMAGES=… PREVIOUS_TAG=… PREVIOUS_KAFKA_REPO=… PREVIOUS_KAFKA_TAG=…
# Cached: the tree is extracted once, and build.sh rebuilds an image only
# when its inputs change (the Go builds hit Go's cache). The Kafka jars are
# the current tree's .cache/kafka (the same pom.xml; checked).
set -euo pipefail

# The chart of main before per-pod volumes (issue 23): one PVC shared by
# every consumer pod, partition files with their "log" inside, no snapshots.
PREVIOUS_COMMIT=3a240b6dd56512dfeb67130577c75582c17da09c

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
log() { echo "previous: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

commit=${1:-$PREVIOUS_COMMIT}
full=$(git -C "$REPO" rev-parse --verify --quiet "$commit^{commit}") ||
	die "commit $commit is not in $REPO (a shallow clone? git fetch --unshallow, or git fetch origin $commit)"
short=${full:0:7}
dir=${PREVIOUS_DIR:-$REPO/.cache/previous}/$short
src=$dir/src

if [[ ! -f $src/.extracted ]]; then
	rm -rf "$src"
	mkdir -p "$src"
	git -C "$REPO" archive --format=tar "$full" | tar -x -C "$src"
	echo "$full" >"$src/.extracted"
	log "extracted $short into $src"
fi

# Its build.sh reads the Kafka jars from its own .cache/kafka: the current
# tree's, when they are the same jars (the same pom.xml).
cmp -s "$src/hack/kafka/pom.xml" "$REPO/hack/kafka/pom.xml" ||
	die "$short's hack/kafka/pom.xml differs from the current one: its Kafka image needs its own jars (not handled)"
mkdir -p "$REPO/.cache/kafka" "$src/.cache"
[[ -L $src/.cache/kafka ]] || ln -sfn "$REPO/.cache/kafka" "$src/.cache/kafka"

tag=prev-$short
start=$SECONDS
IMAGE_TAG=$tag IMAGES_OUT=$dir/images "$src/hack/images/build.sh" producer consumer controller kafka >/dev/null
log "images of $short ready in $dir/images ($((SECONDS - start))s)"

# The repositories and the Kafka tag as that commit's images.sh names them.
vars=$(IMAGE_TAG=$tag bash -c 'source "$1"; echo "$IMG_KAFKA_REPO $IMG_KAFKA_TAG"' _ "$src/hack/images/images.sh")
read -r kafka_repo kafka_tag <<<"$vars"
printf 'PREVIOUS_COMMIT=%q PREVIOUS_CHART=%q PREVIOUS_IMAGES=%q PREVIOUS_TAG=%q PREVIOUS_KAFKA_REPO=%q PREVIOUS_KAFKA_TAG=%q\n' \
	"$full" "$src/charts/weather" "$dir/images" "$tag" "$kafka_repo" "$kafka_tag"
