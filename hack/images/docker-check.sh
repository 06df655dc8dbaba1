#!/usr/bin/env bash
# make images-check: the three Dockerfiles built for real by a Docker engine
# with BuildKit — `make images`, as users run it — on a machine without a
# registry, then the images inspected and run. Root; Debian 12.
#
# 1. Docker: Debian's docker.io (20.10, BuildKit built in) is apt-installed if
#    missing. A dockerd of our own runs with its state in $DOCKER_DIR
#    (/var/tmp/weather-docker), its own socket, containerd and namespaces,
#    and no network of its own (--bridge=none --iptables=false
#    --ip-forward=false --ip-masq=false): it adds nothing to the host's
#    iptables, links or sysctls, so it cannot meet the e2e cluster's. Builds
#    use the host's network (DOCKER_BUILD_FLAGS=--network=host). Stopped at
#    exit, its state removed (DOCKER_KEEP=1 keeps its images and caches).
# 2. Stand-ins of the three images the Dockerfiles need, none pullable here:
#      golang:<GO_VERSION>      this host's Go (it must be that version), bash,
#                               busybox, CA certificates      standin/golang.json
#      gcr.io/distroless/static-debian13:nonroot
#                               users, homes, /tmp, CA certificates, mime
#                               types, services, zoneinfo     standin/distroless-static.json
#      docker/dockerfile:1      BuildKit's Dockerfile frontend, built from
#                               the Go module proxy (hack/images/frontend),
#                               as its Dockerfile packs it (BuildKit prefers
#                               a local image of the "# syntax=" reference)
#    The first two are `docker import`ed with their file's image config, and
#    each imported image's config is checked against its file; the files
#    are held to the official images' facts (hack/images/upstream) by
#    charts/images_test.go in make test.
# 3. make images, with the engine's own CLI (a newer docker CLI without buildx
#    would refuse BuildKit) and DOCKER_BUILD_FLAGS=--network=host.
# 4. Each image: its config (the base's working directory and environment,
#    the Dockerfile's user, entrypoint and ports, no command or volume: what
#    hack/images/build.sh gives the e2e's image of it), its
#    layers (the base's, then exactly its binaries at /, root's, 0755), and
#    each binary run in it (--network none, --read-only, no capabilities,
#    as the image's uid 65532: -h).
#
# One line per step on stderr with its time; exit 1 on the first failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=hack/images/standin.sh
source "$HERE/standin.sh"

DOCKER_DIR=${DOCKER_DIR:-/var/tmp/weather-docker}
DOCKER_CLI=/usr/bin/docker # Debian's, the daemon's own version
SOCK=$DOCKER_DIR/docker.sock
export DOCKER_HOST=unix://$SOCK
WORK=$REPO/.cache/images-check
VERSION=images-check

log() { echo "images-check: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}
step() {
	local start=$SECONDS
	log "$1 ..."
	"${@:2}"
	log "$1: done ($((SECONDS - start))s)"
}
docker() { "$DOCKER_CLI" "$@"; }

[[ $(id -u) == 0 ]] || die "needs root (a Docker daemon of its own)"

# ------------------------------------------------------------ the engine ---

DOCKERD_PID=
install_docker() {
	command -v jq >/dev/null && [[ -x /usr/sbin/dockerd && -x $DOCKER_CLI ]] && return
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends docker.io jq >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends docker.io jq >&2; }
}

start_dockerd() {
	[[ ! -S $SOCK ]] || ! docker info >/dev/null 2>&1 || die "a dockerd already serves $SOCK (another run?)"
	mkdir -p "$DOCKER_DIR"
	# Nothing of the daemon's may stay on the host: no bridge, no iptables
	# rules, no forwarding; its containerd is its own (under exec-root).
	/usr/sbin/dockerd --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" \
		--pidfile "$DOCKER_DIR/dockerd.pid" -H "$DOCKER_HOST" \
		--containerd-namespace weather-check --containerd-plugins-namespace weather-check-plugins \
		--bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
		>"$DOCKER_DIR/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	local i
	for i in $(seq 60); do
		docker info >/dev/null 2>&1 && break
		kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -20 "$DOCKER_DIR/dockerd.log" >&2; die "dockerd exited"; }
		sleep 0.5
		((i < 60)) || die "dockerd did not answer in 30 s"
	done
	log "dockerd $(docker version -f '{{.Server.Version}}') (pid $DOCKERD_PID), storage $(docker info -f '{{.Driver}}'), state in $DOCKER_DIR"
}

# stop_dockerd: the daemon and the containerd it started, by their pids;
# then whatever is still mounted under $DOCKER_DIR, and the state (kept
# with DOCKER_KEEP=1: the images and BuildKit's cache make a rerun warm).
stop_dockerd() {
	[[ -n $DOCKERD_PID ]] || return 0
	local pid containerd i
	containerd=$(cat "$DOCKER_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
	for pid in $DOCKERD_PID $containerd; do
		kill "$pid" 2>/dev/null || continue
		for i in $(seq 60); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	awk -v d="$DOCKER_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
	if [[ ${DOCKER_KEEP:-} == 1 ]]; then
		rm -rf "$DOCKER_DIR/exec" "$SOCK"
		log "dockerd stopped; DOCKER_KEEP=1: its images and caches kept in $DOCKER_DIR/data"
	else
		rm -rf "$DOCKER_DIR"
		log "dockerd stopped, $DOCKER_DIR removed"
	fi
}

# --------------------------------------------------------- the stand-ins ---

# config_changes STANDIN_JSON: the image config of the file as `docker
# import --change` instructions, one per line.
config_changes() {
	jq -r '.config |
		(if .User then "USER \(.User)" else empty end),
		(if .WorkingDir then "WORKDIR \(.WorkingDir)" else empty end),
		((.Env // [])[] | "ENV \(.)"),
		(if .Entrypoint then "ENTRYPOINT \(.Entrypoint | tojson)" else empty end),
		(if .Cmd then "CMD \(.Cmd | tojson)" else empty end),
		((.Volumes // {}) | keys[] | "VOLUME \(.)"),
		((.ExposedPorts // {}) | keys[] | "EXPOSE \(.)")' "$1"
}

# import_standin REF ROOTFS STANDIN_JSON: docker import ROOTFS as REF with
# the file's config, then check the image's config against the file.
import_standin() {
	local ref=$1 rootfs=$2 standin=$3 change args=()
	standin_tree "$ref" "$rootfs" "$standin"
	check_rootfs "$ref" "$rootfs" "$(jq -c .config "$standin")"
	while read -r change; do
		args+=(--change "$change")
	done < <(config_changes "$standin")
	tar --numeric-owner -C "$rootfs" -c . | docker import "${args[@]}" - "$ref" >/dev/null
	local want got
	want=$(jq -cS '.config | {User: (.User // ""), WorkingDir: (.WorkingDir // ""), Env: (.Env // []),
		Entrypoint: .Entrypoint, Cmd: .Cmd, Volumes: .Volumes, ExposedPorts: .ExposedPorts}' "$standin")
	got=$(docker image inspect -f '{{json .Config}}' "$ref" | jq -cS '{User, WorkingDir, Env: (.Env // []),
		Entrypoint, Cmd, Volumes, ExposedPorts}')
	[[ $got == "$want" ]] || die "$ref: imported config $got, want $want ($standin)"
	rm -rf "$rootfs"
	log "$ref: stand-in imported, config as $standin"
}

# passwd_group ROOT STANDIN_JSON: /etc/passwd and /etc/group of the file's
# users (shell /sbin/nologin, each its own group).
passwd_group() {
	local root=$1 standin=$2
	mkdir -p "$root/etc"
	jq -r '.users | to_entries[] | "\(.key):x:\(.value.uid):\(.value.gid):\(.key):\(.value.home):/sbin/nologin"' \
		"$standin" >"$root/etc/passwd"
	jq -r '.users | to_entries[] | "\(.key):x:\(.value.gid):"' "$standin" >"$root/etc/group"
}

standin_golang() {
	local standin=$HERE/standin/golang.json root=$WORK/golang.rootfs
	local version goroot lib applet
	version=$(jq -r '.config.Env[] | select(startswith("GOLANG_VERSION=")) | sub("^[^=]*="; "")' "$standin")
	[[ $(go env GOVERSION) == "go$version" ]] ||
		die "the golang stand-in is this host's Go, $(go env GOVERSION); the Dockerfiles' GO_VERSION (golang.json) is $version"
	goroot=$(go env GOROOT)
	rm -rf "$root"
	mkdir -p "$root"/{bin,etc/ssl/certs,usr/local,root}
	passwd_group "$root" "$standin"
	sed -i 's|:/sbin/nologin$|:/bin/bash|' "$root/etc/passwd"
	echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
	cp -a "$goroot" "$root/usr/local/go"
	# bash (the image's command) with its libraries; busybox for the rest.
	install -m 0755 /bin/bash "$root/bin/bash"
	while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(ldd /bin/bash | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
	install -m 0755 /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
	done
	mkdir -p "$root/go/src" "$root/go/bin"
	chmod -R 1777 "$root/go"
	import_standin "golang:$version" "$root" "$standin"
}

standin_distroless() {
	local standin=$HERE/standin/distroless-static.json root=$WORK/distroless.rootfs ref
	ref=$(jq -r '.image | split(",")[0]' "$standin")
	rm -rf "$root"
	mkdir -p "$root"
	distroless_tree "$root"
	import_standin "$ref" "$root" "$standin"
}

# BuildKit's Dockerfile frontend, as its own Dockerfile packs it
# (frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile at the pinned
# version): a static binary, its labels, its entrypoint. FROM scratch, and
# no "# syntax=": the engine's built-in frontend builds it, nothing pulled.
standin_frontend() {
	local dir=$WORK/frontend version buildkit
	buildkit=$(cd "$HERE/frontend" && GOWORK=off go list -m -f '{{.Version}}' github.com/moby/buildkit)
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$HERE/frontend" && GOWORK=off CGO_ENABLED=0 go build -trimpath -tags "netgo static_build osusergo" \
		-ldflags "-s -w -X main.Version=buildkit-$buildkit" -o "$dir/dockerfile-frontend" \
		github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend)
	version=$(sed -n 's/^LABEL moby.buildkit.frontend.caps="\(.*\)"$/\1/p' \
		"$(cd "$HERE/frontend" && GOWORK=off go list -m -f '{{.Dir}}' github.com/moby/buildkit)/frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile")
	[[ -n $version ]] || die "no moby.buildkit.frontend.caps label in BuildKit $buildkit's frontend Dockerfile"
	cat >"$dir/Dockerfile" <<-EOF
		FROM scratch
		LABEL moby.buildkit.frontend.network.none="true"
		LABEL moby.buildkit.frontend.caps="$version"
		COPY dockerfile-frontend /bin/dockerfile-frontend
		ENTRYPOINT ["/bin/dockerfile-frontend"]
	EOF
	DOCKER_BUILDKIT=1 docker build -q -t docker/dockerfile:1 "$dir" >/dev/null
	log "docker/dockerfile:1: BuildKit $buildkit's Dockerfile frontend"
}

# ------------------------------------------------------------ the images ---

build_images() {
	make -C "$REPO" --no-print-directory images DOCKER="$DOCKER_CLI" VERSION="$VERSION" \
		DOCKER_BUILD_FLAGS="--network=host --progress=plain" >"$WORK/build.log" 2>&1 ||
		{ tail -40 "$WORK/build.log" >&2; die "make images failed (all of it: $WORK/build.log)"; }
	grep -q 'resolve image config for docker.io/docker/dockerfile:1' "$WORK/build.log" ||
		die "the builds did not go through docker/dockerfile:1 (the Dockerfiles' # syntax= line): $WORK/build.log"
}

# check_image NAME BINARY...: the built image of Dockerfile.NAME. Its
# config must be the one hack/images/build.sh gives the e2e's image of it
# (dockerfile_config: the base's, with the final stage's USER, ENTRYPOINT
# and EXPOSE).
check_image() {
	local name=$1
	shift
	local ref=localhost/weather/$name:$VERSION standin=$HERE/standin/distroless-static.json base bin
	base=$(jq -r '.image | split(",")[0]' "$standin")
	local want got
	want=$(dockerfile_config "$REPO/Dockerfile.$name" "$(jq -c .config "$standin")" |
		jq -cS '{User, WorkingDir, Env, Entrypoint, Cmd, Volumes, ExposedPorts}')
	[[ $(jq -r '.Entrypoint[0]' <<<"$want") == "/$1" ]] || die "Dockerfile.$name: ENTRYPOINT is not /$1"
	got=$(docker image inspect -f '{{json .Config}}' "$ref" | jq -cS '{User, WorkingDir, Env, Entrypoint, Cmd, Volumes, ExposedPorts}')
	[[ $got == "$want" ]] || die "$ref: config $got, want $want"

	# Layers: the base's, then exactly the binaries.
	local dir=$WORK/$name.saved baselayers layers files
	rm -rf "$dir"
	mkdir -p "$dir"
	docker save "$ref" | tar -C "$dir" -x
	baselayers=$(docker image inspect -f '{{json .RootFS.Layers}}' "$base")
	layers=$(docker image inspect -f '{{json .RootFS.Layers}}' "$ref")
	jq -e --argjson b "$baselayers" '.[:($b | length)] == $b' <<<"$layers" >/dev/null ||
		die "$ref: its layers $layers do not start with $base's $baselayers"
	files=$(jq -r --argjson n "$(jq length <<<"$baselayers")" '.[0].Layers[$n:][]' "$dir/manifest.json" |
		while read -r layer; do tar --numeric-owner -tvf "$dir/$layer"; done |
		awk '{ print $1, $2, $6 }' | sort)
	local want_files
	want_files=$(for bin in "$@"; do echo "-rwxr-xr-x 0/0 $bin"; done | sort)
	[[ $files == "$want_files" ]] || die "$ref: added files
$files
want exactly
$want_files"
	rm -rf "$dir"

	# Each binary runs there as the chart runs it: uid 65532, read-only root
	# file system, no capabilities, no network.
	# -h: the usage (the controller, before its flags, wants NAMESPACE);
	# docker's own failures to start it are 125-127.
	for bin in "$@"; do
		local out rc=0
		out=$(docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
			--entrypoint "/$bin" "$ref" -h 2>&1) || rc=$?
		((rc < 125)) && grep -qiE "^(usage|$bin)" <<<"$out" || die "$ref: /$bin -h did not run (exit $rc): $out"
		log "$ref: /$bin runs ($(head -1 <<<"$out"))"
	done
	log "$ref: config, layers and binaries as Dockerfile.$name says ($(docker image inspect -f '{{.Size}}' "$ref" | numfmt --to=iec))"
}

check_images() {
	check_image producer producer
	check_image consumer consumer debug dashboard
	check_image controller controller
}

main() {
	local start=$SECONDS
	mkdir -p "$WORK"
	step "Docker (Debian's docker.io)" install_docker
	trap stop_dockerd EXIT
	step "dockerd of our own, no network of its own" start_dockerd
	step "stand-in golang" standin_golang
	step "stand-in distroless" standin_distroless
	step "stand-in docker/dockerfile:1" standin_frontend
	step "make images (BuildKit)" build_images
	step "the images inspected and run" check_images
	log "all done in $((SECONDS - start))s"
}

main "$@"
