#!/usr/bin/env bash
# scripts/fuzz.sh — run every native Go fuzz target for a bounded time.
#
#   bash scripts/fuzz.sh [package ...]        (default: every package, ./...)
#
# Each Fuzz* function found by `go test -list` runs alone for FUZZTIME
# (default 20s), starting from its seed corpus (f.Add seeds and the files
# committed under <package>/testdata/fuzz/<FuzzName>/). When a target finds a
# crasher, Go writes the failing input to that same folder: commit it, and
# from then on every plain `go test` runs it as a regression test. The script
# goes on with the other targets and exits non-zero at the end.
#
# Environment:
#   FUZZTIME       time per target, a Go duration or Nx (iterations): 20s
#   FUZZ_PARALLEL  fuzzing workers per target (go test -parallel): GOMAXPROCS
#   FUZZMINIMIZETIME  time to minimise a new interesting input: 5s (Go's
#                  default, 60s, could eat a short FUZZTIME on slow targets)
#   FUZZ_LIST=1    only list the targets, run nothing
#
# Cost: about FUZZTIME x targets plus a few seconds of build per package;
# with 12 targets and 20s, about 5 minutes. CI can call it with a shorter
# FUZZTIME (e.g. FUZZTIME=5s bash scripts/fuzz.sh) or nightly with a longer
# one; it needs no tool beyond Go.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-20s}"
minimize="${FUZZMINIMIZETIME:-5s}"
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then
	parallel=(-parallel "$FUZZ_PARALLEL")
fi
if [ "$#" -gt 0 ]; then
	pkgs=("$@")
else
	pkgs=(./...)
fi

log() { printf '==> %s\n' "$*" >&2; }

ran=0
failed=()
while read -r pkg; do
	# -list compiles the package's tests; a package that does not compile
	# is a failure, not a package without targets.
	if ! list="$(go test -list '^Fuzz' "$pkg" 2>&1)"; then
		printf '%s\n' "$list" >&2
		failed+=("$pkg (does not compile)")
		continue
	fi
	for target in $(printf '%s\n' "$list" | grep '^Fuzz' || true); do
		if [ "${FUZZ_LIST:-}" = 1 ]; then
			printf '%s %s\n' "$pkg" "$target"
			continue
		fi
		log "$pkg $target for $fuzztime"
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" ${parallel[@]+"${parallel[@]}"} "$pkg"; then
			ran=$((ran + 1))
		else
			dir="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
			log "FAILED: $pkg $target; a crasher, if found, is in $dir: commit it as a regression test"
			failed+=("$pkg $target")
		fi
	done
done < <(go list "${pkgs[@]}")

if [ "${FUZZ_LIST:-}" = 1 ]; then
	exit 0
fi
log "$ran fuzz targets ran clean for $fuzztime each; ${#failed[@]} failed"
if [ "${#failed[@]}" -gt 0 ]; then
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
