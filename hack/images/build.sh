#!/usr/bin/env bash
# Build the e2e cluster's container images without a container engine.
#
#   hack/images/build.sh [NAME...]     NAME: pause busybox coredns
#                                      local-path-provisioner producer consumer
#                                      controller kafka keda-operator
#                                      keda-adapter (default: all)
#
# Writes one docker-archive tar per image to ${IMAGES_OUT:-<repo>/.cache/images}/NAME.tar,
# ready for `ctr -n k8s.io images import` (hack/cluster/up.sh does that).
# The only line on stdout is that directory; progress goes to stderr.
#
# Why no Dockerfiles: these machines have no Docker engine and no registry.
# An image is just a tar of a root filesystem plus a JSON config, so each one
# is assembled in a directory and packed with tar and sha256sum (mkimage below):
#   manifest.json           [{"Config": "<sha>.json", "RepoTags": [ref], "Layers": ["<sha>.tar"]}]
#   <sha>.json              config: user, entrypoint, env, diff_ids = [sha256 of the layer tar]
#   <sha>.tar               the single layer
#
# Inputs:
#   the services       what Dockerfile.{producer,consumer,controller} put on distroless:
#                      static binaries (CGO_ENABLED=0, each module with GOWORK=off)
#                      on the distroless stand-in (standin/distroless-static.json:
#                      the official image's users, directories and config), with
#                      the Dockerfile's USER, ENTRYPOINT and EXPOSE; the consumer
#                      image holds consumer, debug and dashboard
#   the add-ons        coredns, local-path-provisioner from hack/k8s/bins.sh (K8S_BIN)
#   KEDA               its operator and metrics API server from hack/k8s/bins.sh, as
#                      its own Dockerfile and Dockerfile.adapter (in its Go module)
#                      put them on distroless: the same stand-in as the services
#   pause              hack/images/pause (its own module, GOWORK=off)
#   busybox            Debian's busybox-static (static binary; installed if missing)
#   kafka              the Maven Central jars of hack/kafka/pom.xml (hack/kafka/kafka.sh install),
#                      a JRE jlink'd from the host's JDK 17 plus the shared libraries it
#                      needs (ldd), busybox as /bin/sh, and small kafka-*.sh shims
#                      (hack/kafka/image/) that start the same main classes with the
#                      same arguments as Kafka's own scripts; and what the official
#                      apache/kafka image declares (standin/kafka.json, kept equal to
#                      upstream/apache-kafka.json by charts/images_test.go): its
#                      VOLUMEs and their directories' owners, user appuser, no
#                      working directory, its entrypoint and command, its ENV.
# An image is rebuilt only when its inputs change (a stamp of their checksums).
set -euo pipefail

exec 3>&1 1>&2 # stdout: only the output directory

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=hack/images/images.sh
source "$HERE/images.sh"
# shellcheck source=hack/images/standin.sh
source "$HERE/standin.sh"

OUT=${IMAGES_OUT:-$REPO/.cache/images}
K8S_BIN=${K8S_BIN:-$REPO/.cache/k8s/v1.34.4/bin}
JDK_HOME=${JDK_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
WORK=$OUT/work
mkdir -p "$OUT" "$WORK"

log() { echo "images: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# mkimage NAME REF ROOTFS CONFIG_JSON: pack directory ROOTFS as the single
# layer of image REF, with CONFIG_JSON as the image config's "config" object
# (User, Entrypoint, Env, ...), into $OUT/NAME.tar.
mkimage() {
	local name=$1 ref=$2 rootfs=$3 config=$4
	check_rootfs "$name" "$rootfs" "$config"
	local dir=$WORK/$name.archive
	rm -rf "$dir"
	mkdir -p "$dir"
	# Deterministic layer: sorted names, fixed times, numeric owners as in
	# ROOTFS (built by root: root-owned unless chown'd; the image config's User
	# decides who the process runs as).
	tar --sort=name --mtime=@0 --numeric-owner \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$rootfs" -cf "$dir/layer.tar" .
	local layer_sha
	layer_sha=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
	mv "$dir/layer.tar" "$dir/$layer_sha.tar"

	jq -n --argjson config "$config" --arg diff "sha256:$layer_sha" --arg ref "$ref" '{
		architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
		config: $config,
		rootfs: {type: "layers", diff_ids: [$diff]},
		history: [{created: "1970-01-01T00:00:00Z", created_by: ("hack/images/build.sh " + $ref)}]
	}' >"$dir/config.json"
	local config_sha
	config_sha=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
	mv "$dir/config.json" "$dir/$config_sha.json"

	jq -n --arg c "$config_sha.json" --arg ref "$ref" --arg l "$layer_sha.tar" \
		'[{Config: $c, RepoTags: [$ref], Layers: [$l]}]' >"$dir/manifest.json"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-C "$dir" -cf "$OUT/.$name.tar.tmp" manifest.json "$config_sha.json" "$layer_sha.tar"
	mv -f "$OUT/.$name.tar.tmp" "$OUT/$name.tar"
	rm -rf "$dir" "$rootfs"
	log "$name: $ref ($(du -h "$OUT/$name.tar" | cut -f1))"
}

# new_rootfs NAME: an empty root filesystem dir with what every image needs:
# /etc/passwd and /etc/group naming root, appuser (1000, as apache/kafka) and
# nonroot (65532, as distroless), a world-writable /tmp, and nsswitch.conf
# so glibc (the JVM) resolves names with /etc/hosts then DNS.
new_rootfs() {
	local root=$WORK/$1.rootfs
	rm -rf "$root"
	mkdir -p "$root"/{etc,tmp,proc,sys,dev}
	chmod 1777 "$root/tmp"
	cat >"$root/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		appuser:x:1000:1000:appuser:/home/appuser:/bin/sh
		nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
		nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
	EOF
	cat >"$root/etc/group" <<-'EOF'
		root:x:0:
		appuser:x:1000:
		nonroot:x:65532:
		nogroup:x:65534:
	EOF
	echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
	echo "$root"
}

# up_to_date NAME INPUT...: true if NAME.tar exists and was built from these
# exact inputs (files' checksums, plus this script and images.sh); else
# records the new stamp for when the build succeeds.
up_to_date() {
	local name=$1
	shift
	STAMP=$(
		{
			echo "$name ${IMAGE_TAG}"
			sha256sum "$HERE/build.sh" "$HERE/images.sh" "$HERE/standin.sh" "$@" | cut -d' ' -f1
		} | sha256sum | cut -d' ' -f1
	)
	[[ -f $OUT/$name.tar && -f $OUT/$name.stamp && $(cat "$OUT/$name.stamp") == "$STAMP" ]]
}
stamp() { echo "$STAMP" >"$OUT/$1.stamp"; }

# gobuild OUTDIR SERVICE...: static binaries of services/SERVICE, built as
# the Dockerfiles build them: each module on its own (GOWORK=off; its go.mod
# replaces the sibling modules with local paths), -trimpath, stripped.
gobuild() {
	local out=$1 svc
	shift
	mkdir -p "$out"
	for svc in "$@"; do
		(cd "$REPO/services/$svc" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/$svc" .)
	done
}

# apt_install PACKAGE...: install Debian packages (refreshing the package
# lists first if they are stale or missing).
apt_install() {
	log "installing $* (Debian) ..."
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "$@" >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "$@" >&2; }
}
# Debian's busybox-static: a static busybox, so the images need no libc for it.
need_busybox() {
	[[ -x /bin/busybox ]] && ! ldd /bin/busybox >/dev/null 2>&1 && return
	apt_install busybox-static
}
command -v jq >/dev/null || apt_install jq

# ------------------------------------------------------------------ images ---

build_pause() {
	local bin=$WORK/bin/pause
	mkdir -p "$WORK/bin"
	(cd "$HERE/pause" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin" .)
	up_to_date pause "$bin" && return
	local root
	root=$(new_rootfs pause)
	install -m 0755 "$bin" "$root/pause"
	mkimage pause "$IMG_PAUSE" "$root" '{"User": "65535:65535", "Entrypoint": ["/pause"]}'
	stamp pause
}

# Busybox with every applet linked, as /bin/sh & co.
busybox_into() {
	local root=$1 applet
	mkdir -p "$root/bin"
	install -m 0755 /bin/busybox "$root/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
	done
}

build_busybox() {
	need_busybox
	up_to_date busybox /bin/busybox && return
	local root
	root=$(new_rootfs busybox)
	busybox_into "$root"
	mkimage busybox "$IMG_BUSYBOX" "$root" \
		'{"Entrypoint": ["/bin/sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"}'
	stamp busybox
}

# addon NAME: an image of one binary from hack/k8s/bins.sh, run as root
# (CoreDNS binds port 53; the provisioner runs helper pods, as upstream's).
build_addon() {
	local name=$1 ref=$2 bin=$K8S_BIN/$1
	[[ -x $bin ]] || die "$bin missing: run hack/k8s/bins.sh cluster first"
	up_to_date "$name" "$bin" && return
	local root
	root=$(new_rootfs "$name")
	install -m 0755 "$bin" "$root/$name"
	mkimage "$name" "$ref" "$root" "$(jq -cn --arg e "/$name" '{Entrypoint: [$e], WorkingDir: "/"}')"
	stamp "$name"
}

# distroless_image IMAGE REF DOCKERFILE BINARY=PATH...: an image of static
# binaries as DOCKERFILE builds it: each BINARY at PATH, on the distroless
# stand-in's root file system and config (standin/distroless-static.json,
# the official image's facts: its user, working directory and environment),
# with the USER, ENTRYPOINT, EXPOSE and WORKDIR of the Dockerfile's final
# stage, whose ENTRYPOINT must be the first PATH.
distroless_image() {
	local image=$1 ref=$2 dockerfile=$3 standin=$HERE/standin/distroless-static.json
	shift 3
	up_to_date "$image" "${@%%=*}" "$dockerfile" "$standin" && return
	local root=$WORK/$image.rootfs bin config
	rm -rf "$root"
	mkdir -p "$root"
	distroless_tree "$root"
	for bin in "$@"; do
		install -m 0755 "${bin%%=*}" "$root${bin#*=}"
	done
	config=$(dockerfile_config "$dockerfile" "$(jq -c .config "$standin")")
	[[ $(jq -r '.Entrypoint[0]' <<<"$config") == "${1#*=}" ]] || die "$dockerfile: ENTRYPOINT is not ${1#*=}"
	mkimage "$image" "$ref" "$root" "$config"
	stamp "$image"
}

# build_service IMAGE REF BINARY...: our static Go binaries at /, as
# Dockerfile.IMAGE builds them (distroless_image). The consumer image also
# carries /debug and /dashboard (the chart runs them with command:
# ["/debug"] and ["/dashboard"]).
build_service() {
	local image=$1 ref=$2 bins=$WORK/bin/$1 files=() bin
	shift 2
	gobuild "$bins" "$@"
	for bin in "$@"; do
		files+=("$bins/$bin=/$bin")
	done
	distroless_image "$image" "$ref" "$REPO/Dockerfile.$image" "${files[@]}"
}

# build_keda IMAGE REF BINARY PATH DOCKERFILE: one of KEDA's images, as
# KEDA's own Dockerfile (in its module) builds it: the binary hack/k8s/bins.sh
# built of its module at PATH, on distroless (distroless_image).
build_keda() {
	local bin=$K8S_BIN/$3 dir
	[[ -x $bin ]] || die "$bin missing: run hack/k8s/bins.sh keda first"
	dir=$(keda_dir) || die "no KEDA module"
	distroless_image "$1" "$2" "$dir/$5" "$bin=$4"
}

# The JVM modules Kafka's broker and tools use (java.se is every java.*
# module; the jdk.* ones are what Kafka, its compression and metrics
# libraries and JMX reach for). A JRE, not a JDK: no compiler, no tools.
JRE_MODULES=java.se,jdk.unsupported,jdk.crypto.ec,jdk.crypto.cryptoki,jdk.management,jdk.management.agent,jdk.naming.dns,jdk.security.auth,jdk.security.jgss,jdk.zipfs,jdk.jfr,jdk.charsets,jdk.localedata,jdk.net

build_kafka() {
	need_busybox
	"$REPO/hack/kafka/kafka.sh" install
	local libs=$REPO/.cache/kafka/libs
	[[ -x $JDK_HOME/bin/jlink && -d $JDK_HOME/jmods ]] ||
		die "need a JDK 17 with jlink and jmods (openjdk-17-jdk-headless); JDK_HOME=$JDK_HOME"
	local jdk_id
	jdk_id=$WORK/kafka.jdk-version
	"$JDK_HOME/bin/java" -version 2>"$jdk_id"
	up_to_date kafka "$libs/.installed" "$jdk_id" /bin/busybox \
		"$REPO"/hack/kafka/image/* "$REPO/hack/kafka/log4j2.properties" "$HERE"/standin/kafka* && return

	local root
	root=$(new_rootfs kafka)
	busybox_into "$root"

	log "kafka: jlink a JRE ($JDK_HOME) ..."
	mkdir -p "$root/opt/java"
	"$JDK_HOME/bin/jlink" --add-modules "$JRE_MODULES" --strip-debug --no-man-pages \
		--no-header-files --compress=2 --output "$root/opt/java/openjdk"

	# The shared libraries the JRE links against (libc, libz, libstdc++, ...),
	# and those of the native parts the jars unpack into /tmp when first used
	# (zstd-jni: libpthread.so.0, which the JRE no longer links, so a broker
	# without it fails every zstd append — the snapshot topic's — with
	# UNKNOWN_SERVER_ERROR; snappy-java, lz4-java), at the paths the dynamic
	# loader looks in.
	local lib natives=$WORK/kafka.natives jar
	rm -rf "$natives"
	mkdir -p "$natives"
	for jar in "$libs"/zstd-jni-*.jar "$libs"/snappy-java-*.jar "$libs"/lz4-java-*.jar; do
		[[ -f $jar ]] || die "kafka: no $(basename "$jar") in $libs: which native libraries does Kafka unpack now?"
		(cd "$natives" && "$JDK_HOME/bin/jar" xf "$jar")
	done
	local native_libs
	native_libs=$(find "$natives" -name '*.so' \( -path '*linux/amd64/*' -o -path '*Linux/x86_64/*' \) | sort)
	[[ $(wc -l <<<"$native_libs") -ge 3 ]] || die "kafka: the x86_64 native libraries of zstd-jni, snappy-java and lz4-java not found in their jars"
	while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(
		{
			find "$root/opt/java/openjdk" -type f \( -name '*.so' -o -path '*/bin/*' \) -print0
			tr '\n' '\0' <<<"$native_libs"
		} |
			xargs -0 ldd 2>/dev/null |
			awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' |
			grep -v "^$root" | sort -u
	)
	# Each of those native libraries loads inside the image: the image's own
	# dynamic loader lists its dependencies from the image's root (chroot).
	local check=$root/tmp/natives-check out
	mkdir -p "$check"
	while read -r lib; do
		cp "$lib" "$check/"
		out=$(chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "/tmp/natives-check/$(basename "$lib")" 2>&1) &&
			! grep -q "not found" <<<"$out" ||
			die "kafka: $(basename "$lib") (unpacked by Kafka's jars at run time) does not load in the image: $out"
	done <<<"$native_libs"
	rm -rf "$check" "$natives"
	for lib in /lib/x86_64-linux-gnu/libstdc++.so.6 /lib/x86_64-linux-gnu/libgcc_s.so.1; do
		[[ -e $root$lib ]] || { mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"; }
	done

	mkdir -p "$root/opt/kafka/bin" "$root/opt/kafka/config" "$root/opt/kafka/libs"
	cp "$libs"/*.jar "$root/opt/kafka/libs/"
	install -m 0755 "$REPO"/hack/kafka/image/*.sh "$root/opt/kafka/bin/"
	install -m 0644 "$REPO/hack/kafka/log4j2.properties" "$root/opt/kafka/config/log4j2.properties"
	# apache/kafka's appuser home, and a place for logs the image may write.
	mkdir -p "$root/home/appuser" "$root/opt/kafka/logs"
	chmod 0777 "$root/opt/kafka/logs"
	chown 1000:1000 "$root/home/appuser"
	chown -R 1000:1000 "$root/opt/kafka"

	# What the official image declares and holds where the chart meets it
	# (standin/kafka.json, compared with upstream/apache-kafka.json by
	# charts/images_test.go): its VOLUMEs' directories with their owners
	# and modes, its entrypoint and command (small scripts of our own:
	# standin/kafka-*.sh), and its image config.
	local standin=$HERE/standin/kafka.json
	standin_tree kafka "$root" "$standin"
	install -m 0755 "$HERE/standin/kafka-entrypoint.sh" "$root/__cacert_entrypoint.sh"
	mkdir -p "$root/etc/kafka/docker"
	install -m 0755 -o 1000 -g 1000 "$HERE/standin/kafka-run.sh" "$root/etc/kafka/docker/run"
	local java_version config
	java_version=jdk-$("$root/opt/java/openjdk/bin/java" -XshowSettings:properties -version 2>&1 |
		sed -n 's/^ *java.runtime.version = //p')
	[[ $java_version != jdk- ]] || die "kafka: cannot tell the JRE's version"
	config=$(jq -c --arg v "$java_version" '.config | .Env |= map(sub("@JAVA_VERSION@"; $v))' "$standin")

	# Smoke test on the host before packing: the JRE runs and finds Kafka.
	"$root/opt/java/openjdk/bin/java" -cp "$root/opt/kafka/libs/*" kafka.tools.StorageTool random-uuid >/dev/null ||
		die "the jlink'd JRE cannot run Kafka's StorageTool"

	mkimage kafka "$IMG_KAFKA_REPO:$IMG_KAFKA_TAG" "$root" "$config"
	stamp kafka
}

main() {
	local names=("$@") name start
	((${#names[@]})) || names=("${IMAGE_NAMES[@]}")
	for name in "${names[@]}"; do
		start=$SECONDS
		case $name in
		pause) build_pause ;;
		busybox) build_busybox ;;
		coredns) build_addon coredns "$IMG_COREDNS" ;;
		local-path-provisioner) build_addon local-path-provisioner "$IMG_LOCAL_PATH" ;;
		producer) build_service producer "$IMG_PRODUCER_REPO:$IMAGE_TAG" producer ;;
		consumer) build_service consumer "$IMG_CONSUMER_REPO:$IMAGE_TAG" consumer debug dashboard ;;
		controller) build_service controller "$IMG_CONTROLLER_REPO:$IMAGE_TAG" controller ;;
		kafka) build_kafka ;;
		keda-operator) build_keda keda-operator "$IMG_KEDA_OPERATOR_REPO:$IMG_KEDA_TAG" keda-operator /keda Dockerfile ;;
		keda-adapter) build_keda keda-adapter "$IMG_KEDA_ADAPTER_REPO:$IMG_KEDA_TAG" keda-adapter /keda-adapter Dockerfile.adapter ;;
		*) die "unknown image '$name' (known: ${IMAGE_NAMES[*]})" ;;
		esac
		log "$name ready ($((SECONDS - start))s)"
	done
	echo "$OUT" >&3
}

main "$@"
exit
