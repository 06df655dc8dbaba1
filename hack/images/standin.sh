# Sourced by hack/images/build.sh and hack/images/docker-check.sh: make a
# stand-in's root file system what its file (hack/images/standin/NAME.json)
# says, and check it. The file itself is held to the official image's facts
# (hack/images/upstream/) by charts/images_test.go.
# shellcheck shell=bash

# standin_tree NAME ROOTFS STANDIN_JSON: make the directories of the
# stand-in's "paths" with their owners and modes; then check its "users"
# against ROOTFS's /etc/passwd and that ROOTFS holds its "files".
standin_tree() {
	local name=$1 rootfs=$2 standin=$3 path user uid gid mode home
	while read -r path uid gid mode; do
		mkdir -p "$rootfs$path"
		chown "$uid:$gid" "$rootfs$path"
		chmod "$mode" "$rootfs$path"
	done < <(jq -r '(.paths // {}) | to_entries[] | "\(.key) \(.value.uid) \(.value.gid) \(.value.mode)"' "$standin")
	while read -r user uid gid home; do
		grep -qx "$user:x:$uid:$gid:[^:]*:$home:[^:]*" "$rootfs/etc/passwd" ||
			die "$name: /etc/passwd has no $user with uid $uid, gid $gid, home $home ($standin)"
	done < <(jq -r '(.users // {}) | to_entries[] | "\(.key) \(.value.uid) \(.value.gid) \(.value.home)"' "$standin")
	while read -r path; do
		[[ -e $rootfs$path || -L $rootfs$path ]] || die "$name: $path is not in the stand-in ($standin)"
	done < <(jq -r '(.files // [])[]' "$standin")
}

# check_rootfs NAME ROOTFS CONFIG_JSON: what the image config names is in
# ROOTFS: the entrypoint's and command's programs (absolute paths,
# executable), the working directory and every volume's directory; a named
# user is in /etc/passwd.
check_rootfs() {
	local name=$1 rootfs=$2 config=$3 path user
	while read -r path; do
		[[ -x $rootfs$path && ! -d $rootfs$path ]] || die "$name: $path (entrypoint or command) is not an executable in the image"
	done < <(jq -r '[(.Entrypoint // [])[0], (.Cmd // [])[0]] | map(select(. != null and startswith("/"))) | .[]' <<<"$config")
	while read -r path; do
		[[ -d $rootfs$path ]] || die "$name: $path (working directory or volume) is not a directory in the image"
	done < <(jq -r '[.WorkingDir // empty | select(. != "")] + ((.Volumes // {}) | keys) | .[]' <<<"$config")
	user=$(jq -r '(.User // "") | split(":") | .[0] // ""' <<<"$config")
	if [[ -n $user && ! $user =~ ^[0-9]+$ ]]; then
		grep -q "^$user:" "$rootfs/etc/passwd" || die "$name: user $user is not in /etc/passwd"
	fi
}

# distroless_tree ROOT: the root file system of the distroless stand-in
# (standin/distroless-static.json) in the empty directory ROOT: its users and
# groups, homes and /tmp, nsswitch.conf and os-release written to
# distroless's content, and from this Debian host the CA certificates, mime
# types, services, protocols and zoneinfo. Checked against the file.
distroless_tree() {
	local root=$1 standin
	standin=$(dirname "${BASH_SOURCE[0]}")/standin/distroless-static.json
	mkdir -p "$root"/{etc/ssl/certs,usr/share}
	jq -r '.users | to_entries[] | "\(.key):x:\(.value.uid):\(.value.gid):\(.key):\(.value.home):/sbin/nologin"' \
		"$standin" >"$root/etc/passwd"
	jq -r '.users | to_entries[] | "\(.key):x:\(.value.gid):"' "$standin" >"$root/etc/group"
	# distroless's groups tty and staff too (its common/BUILD.bazel).
	printf 'tty:x:5:\nstaff:x:50:\n' >>"$root/etc/group"
	printf 'passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' >"$root/etc/nsswitch.conf"
	cat >"$root/etc/os-release" <<-'OS'
		PRETTY_NAME="Distroless"
		NAME="Debian GNU/Linux"
		ID="debian"
		VERSION_ID="13"
		VERSION="Debian GNU/Linux 13 (trixie)"
		HOME_URL="https://github.com/GoogleContainerTools/distroless"
	OS
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
	cp /etc/mime.types /etc/services /etc/protocols "$root/etc/"
	cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
	standin_tree distroless "$root" "$standin"
}

# dockerfile_config DOCKERFILE BASE_CONFIG_JSON: the image config the
# Dockerfile's final stage makes on a base with BASE_CONFIG_JSON: its USER,
# ENTRYPOINT (JSON form), EXPOSE and WORKDIR lines over the base's.
dockerfile_config() {
	local file=$1 base=$2 final user entrypoint ports workdir
	final=$(awk '/^FROM / { n = NR } END { print n }' "$file")
	user=$(awk -v n="$final" 'NR > n && $1 == "USER" { print $2 }' "$file")
	entrypoint=$(awk -v n="$final" 'NR > n && $1 == "ENTRYPOINT" { sub(/^ENTRYPOINT +/, ""); print }' "$file")
	ports=$(awk -v n="$final" 'NR > n && $1 == "EXPOSE" { for (i = 2; i <= NF; i++) print $i }' "$file")
	workdir=$(awk -v n="$final" 'NR > n && $1 == "WORKDIR" { print $2 }' "$file" | tail -n 1)
	[[ -n $user && -n $entrypoint ]] || die "$file: no USER or ENTRYPOINT in its final stage"
	jq -c --arg u "$user" --argjson e "$entrypoint" --arg p "$ports" --arg w "$workdir" \
		'. + {User: $u, Entrypoint: $e} + (if $p == "" then {} else {ExposedPorts: ($p | split("\n") | map({(if test("/") then . else . + "/tcp" end): {}}) | add)} end) + (if $w == "" then {} else {WorkingDir: $w} end)' <<<"$base"
}
