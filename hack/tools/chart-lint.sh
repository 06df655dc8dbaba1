#!/usr/bin/env bash
# The chart through the linters a Helm chart's CI runs (make chart-lint,
# make chart-yaml-lint):
#
#   hack/tools/chart-lint.sh yaml   chart-testing's YAML checks, exactly as `ct lint`
#                                   runs them: yamllint with its etc/lintconf.yaml on
#                                   Chart.yaml, values.yaml and ci/*-values.yaml, yamale
#                                   with its etc/chart_schema.yaml on Chart.yaml
#   hack/tools/chart-lint.sh all    those, and kube-score on `helm template` of the
#                                   defaults and of every ci/*-values.yaml (default)
#
# Tools, all pinned: yamllint and yamale from PyPI (hack/tools/chartlint/
# requirements.txt, into a venv under .cache/chartlint), chart-testing's
# configs from its Go module (hack/tools/charttesting), kube-score and helm
# built by hack/k8s/bins.sh. kube-score's ignored tests, each with its
# reason, are in hack/tools/chartlint/kube-score-ignore.
#
# Env: CHART_LINT_OUT=DIR keeps each linter's raw output in DIR.
# Exits non-zero if any linter finds anything (kube-score: a warning too).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CHART=$REPO/charts/weather
CACHE=$REPO/.cache/chartlint
OUT=${CHART_LINT_OUT:-}
# kube-score judges against the Kubernetes the chart is built and tested for.
K8S_MINOR_VERSION=v1.34

log() { echo "chart-lint: $*" >&2; }

# venv: the pinned linters, reinstalled when requirements.txt or the Python
# changes.
venv() {
	local req=$HERE/chartlint/requirements.txt key
	key=$({ sha256sum "$req"; python3 --version; } | sha256sum | cut -d' ' -f1)
	if [[ -x $CACHE/venv/bin/yamllint && $(cat "$CACHE/venv/.stamp" 2>/dev/null) == "$key" ]]; then
		return
	fi
	log "installing $(grep -cE '^[A-Za-z]' "$req") pinned packages into $CACHE/venv"
	rm -rf "$CACHE/venv"
	python3 -m venv "$CACHE/venv"
	# --no-deps: nothing but the pinned versions; a missing pin fails below.
	"$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req" >&2
	"$CACHE/venv/bin/pip" check >&2
	echo "$key" >"$CACHE/venv/.stamp"
}

# ctdir: chart-testing's module in the module cache (downloaded if needed).
ctdir() {
	(cd "$HERE/charttesting" && GOWORK=off GOFLAGS=-mod=readonly go mod download github.com/helm/chart-testing/v3 &&
		GOWORK=off GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' github.com/helm/chart-testing/v3)
}

# run NAME CMD...: runs a linter, keeps its output (in $OUT/NAME.txt), and
# records a failure without stopping the others.
failed=()
run() {
	local name=$1 rc=0 out
	shift
	out=$("$@" 2>&1) || rc=$?
	if [[ -n $OUT ]]; then
		printf '$ %s\n%s\n(exit %d)\n' "${*#"$REPO"/}" "$out" "$rc" >"$OUT/$name.txt"
	fi
	if ((rc != 0)); then
		failed+=("$name")
		log "$name: FAIL (exit $rc)"
		# kube-score lists every passed and skipped check too
		grep -vE '^\[(OK|SKIPPED)\]' <<<"$out" >&2 || true
	else
		log "$name: ok"
	fi
}

yaml_checks() {
	local ct files=("$CHART/Chart.yaml" "$CHART/values.yaml") f
	venv
	ct=$(ctdir)
	shopt -s nullglob
	files+=("$CHART"/ci/*-values.yaml)
	shopt -u nullglob
	run yamale "$CACHE/venv/bin/yamale" --schema "$ct/etc/chart_schema.yaml" "$CHART/Chart.yaml"
	for f in "${files[@]}"; do
		run "yamllint-$(tr / _ <<<"${f#"$CHART"/}")" "$CACHE/venv/bin/yamllint" --format parsable --config-file "$ct/etc/lintconf.yaml" "$f"
	done
}

# kube_score VALUES_FILE|"": kube-score on the chart rendered with these
# values (helm template includes the helm test pod).
kube_score() {
	local values=$1 name=defaults rendered ignores=() t
	local -a set=()
	if [[ -n $values ]]; then
		name=$(basename "$values" .yaml)
		set=(--values "$values")
	fi
	# Lines "TEST VALUES_SET" (or "--FLAG VALUES_SET"): VALUES_SET is * (every
	# rendering) or one name.
	while read -r t scope _; do
		[[ -n $t && $t != \#* && ($scope == "*" || $scope == "$name") ]] || continue
		if [[ $t == --* ]]; then ignores+=("$t"); else ignores+=(--ignore-test "$t"); fi
	done <"$HERE/chartlint/kube-score-ignore"
	rendered=$CACHE/rendered-$name.yaml
	"$BIN/helm" template weather "$CHART" --namespace weather "${set[@]}" >"$rendered"
	[[ -z $OUT ]] || cp "$rendered" "$OUT/rendered-$name.yaml"
	run "kube-score-$name" "$BIN/kube-score" score --kubernetes-version "$K8S_MINOR_VERSION" \
		--exit-one-on-warning --output-format ci "${ignores[@]}" "$rendered"
}

main() {
	local what=${1:-all} v
	mkdir -p "$CACHE"
	[[ -z $OUT ]] || mkdir -p "$OUT"
	case "$what" in
	yaml) yaml_checks ;;
	all)
		yaml_checks
		BIN=$("$REPO/hack/k8s/bins.sh" helm kube-score)
		kube_score ""
		for v in "$CHART"/ci/*-values.yaml; do
			[[ -e $v ]] && kube_score "$v"
		done
		;;
	*)
		sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
	if ((${#failed[@]} > 0)); then
		log "failed: ${failed[*]}"
		exit 1
	fi
}

main "$@"
