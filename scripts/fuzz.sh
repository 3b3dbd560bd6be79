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
# goes on with the other targets and exits non-zero at the end. A run that
# fails only with Go 1.26's fuzztime deadline race (go.dev/issue/75804: a bare
# "context deadline exceeded", no input written) is run once more.
#
# Environment:
#   FUZZTIME       time per target, a Go duration or Nx (iterations): 20s
#   FUZZ_PARALLEL  fuzzing workers per target (go test -parallel): GOMAXPROCS
#   FUZZMINIMIZETIME  time to minimise a new interesting input: 5s (Go's
#                  default, 60s, could eat a short FUZZTIME on slow targets)
#   FUZZ_LIST=1    only list the targets, run nothing
#
# Cost: FUZZTIME per target (FUZZ_LIST=1 lists them) plus a few seconds of
# build per package. CI can call it with a shorter FUZZTIME (e.g.
# FUZZTIME=5s bash scripts/fuzz.sh) or nightly with a longer one; it needs
# no tool beyond Go.
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
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
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
		dir="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
		for attempt in 1 2; do
			log "$pkg $target for $fuzztime"
			before="$(ls "$dir" 2>/dev/null || true)"
			if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" ${parallel[@]+"${parallel[@]}"} "$pkg" 2>&1 | tee "$out"; then
				ran=$((ran + 1))
				break
			fi
			# Go 1.26's fuzzing coordinator can fail a clean run at the
			# -fuzztime deadline with a bare "context deadline exceeded"
			# and no input (go.dev/issue/75804, fixed in Go 1.27): such a
			# run found nothing, so it is run once more. A run that wrote an
			# input, or failed in any other way, fails.
			if [ "$attempt" = 1 ] && [ "$(ls "$dir" 2>/dev/null || true)" = "$before" ] &&
				grep -qx '[[:space:]]*context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
				log "$pkg $target: Go's fuzztime deadline race (go.dev/issue/75804), no input written: running it again"
				continue
			fi
			log "FAILED: $pkg $target; a crasher, if found, is in $dir: commit it as a regression test"
			failed+=("$pkg $target")
			break
		done
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
