#!/usr/bin/env bash
# scripts/test.sh — the one test command, for developers and CI alike.
#
#   bash scripts/test.sh
#
# 1. Installs the peers the tests drive (Apache, testssl.sh, nmap, sslscan,
#    curl, openssl, iproute2, util-linux, procps, systemd, nginx (the shield's
#    rate limits are compared with its limit_req); gcc and libssl-dev
#    for the optional OpenSSL signer; podman, runc, rpm, cpio for the release
#    artefacts' tests; nghttp2-client, chromium and, with go install, h2spec
#    for the HTTP/2 server's tests) when any is missing and
#    we are root (or have password-less sudo) with apt-get. Otherwise it
#    skips the install: tests needing a missing tool are skipped, or fail
#    when CI=true.
# 2. go vet, staticcheck, gofmt -l: any finding fails the run.
# 3. go test -count=1 -timeout 20m ./... , the concurrent packages (proxy,
#    tlsconf, stapling, server) under the race detector instead
#    then the optional -tags openssl build (cgo): vet, staticcheck, its tests
# 4. every native fuzz target for FUZZTIME (default 10s) via scripts/fuzz.sh
#
# Environment:
#   CI=true              missing tools fail tests instead of skipping them
#   SKIP_INSTALL=1       never run apt-get
#   SKIP_FUZZ=1          skip step 4, the bounded fuzzing of every target
#   FUZZTIME             time per fuzz target (default 10s)
#   STATICCHECK_VERSION  module version of honnef.co/go/tools (default below)
#   GOTESTFLAGS          extra flags for go test (e.g. "-run TestProxy -v")
#   TEST_PACKAGES        packages to test, without -race (default ./..., the
#                        race-tested ones with -race; vet, staticcheck and
#                        gofmt always cover the whole module)
set -euo pipefail

cd "$(dirname "$0")/.."

# staticcheck release 2026.2.2 is module version v0.8.2, the release made for
# Go 1.26 (2025.1.1, module v0.6.1, also ran clean here; "@2025.1.1" is not a
# module version: the proxy answers 403).
STATICCHECK_VERSION="${STATICCHECK_VERSION:-v0.8.2}"

log() { printf '==> %s\n' "$*" >&2; }

# --- 1. tools ---------------------------------------------------------------
# command name -> Debian packages. apache2-bin (binary and modules) rather
# than apache2, whose install starts a system Apache on :80 that nothing
# here wants; media-types provides /etc/mime.types.
declare -A tools=(
	[apache2]="apache2-bin media-types" [testssl]=testssl.sh [nmap]=nmap [sslscan]=sslscan
	[curl]=curl [openssl]=openssl [ip]=iproute2 [unshare]=util-linux [pgrep]=procps
	[systemd-analyze]=systemd [nginx]=nginx-light
	# scripts/dist.sh and its tests (integration/dist_*_test.go): the image
	# (podman with runc, as TESTING.md says), the rpm checks, objdump for the
	# openssl variant's glibc version.
	[podman]=podman [runc]=runc [rpm]=rpm [rpm2cpio]=rpm2cpio [cpio]=cpio [objdump]=binutils
	# The HTTP/2 server's peers (proxy/h2peers_test.go,
	# integration/h2clients_test.go); headless Chromium loads a page
	# through the binary (about 20 s to install from a Debian mirror).
	[nghttp]=nghttp2-client [h2load]=nghttp2-client [chromium]=chromium
)
missing=()
for cmd in "${!tools[@]}"; do
	# apache2 lives in /usr/sbin, not always on a developer's PATH.
	if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
		# shellcheck disable=SC2206 # split "apache2-bin media-types"
		missing+=(${tools[$cmd]})
	fi
done

# The optional OpenSSL RSA signer (go build -tags openssl) needs cgo: a C
# compiler and libcrypto's headers.
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
[ -f /usr/include/openssl/evp.h ] || missing+=(libssl-dev)
# The release image carries the build machine's CA bundle.
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)

if [ "${#missing[@]}" -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			sudo=(none)
		fi
	fi
	if [ "${SKIP_INSTALL:-}" = 1 ] || ! command -v apt-get >/dev/null 2>&1 || [ "${sudo[0]:-}" = none ]; then
		log "missing tools, not installing: ${missing[*]} (tests needing them skip, or fail under CI=true)"
	else
		log "installing: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		"${sudo[@]}" apt-get update -qq
		"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi
# Apache is in /usr/sbin; make sure the tests find it.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac
export PATH

# h2spec (HTTP/2 conformance, proxy/h2spec_test.go and, through the binary,
# integration/h2spec_test.go) installs with go install;
# its v2.2.1 tag has no go.mod, hence "+incompatible".
H2SPEC_VERSION="${H2SPEC_VERSION:-v2.2.1+incompatible}"
h2spec_bin="$(go env GOPATH)/bin/h2spec"
if ! [ -x "$h2spec_bin" ] && ! command -v h2spec >/dev/null 2>&1; then
	log "installing h2spec ${H2SPEC_VERSION}"
	go install "github.com/summerwind/h2spec/cmd/h2spec@${H2SPEC_VERSION}" ||
		log "h2spec unavailable (offline?): TestH2Spec skips, or fails under CI=true"
fi

# --- 2. static checks -------------------------------------------------------
status=0

log "go vet ./..."
go vet ./... || status=1

log "staticcheck ${STATICCHECK_VERSION}"
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
sc="$gobin/staticcheck"
want_version="${STATICCHECK_VERSION#v}"
if ! [ -x "$sc" ] || ! "$sc" -version 2>/dev/null | grep -q "(${want_version})"; then
	log "installing staticcheck ${STATICCHECK_VERSION} into $gobin"
	go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}" || true
fi
if [ -x "$sc" ]; then
	"$sc" ./... || status=1
	# bench/h1ceiling is its own module (a measurement tool): checked too.
	(cd bench/h1ceiling && go vet . && "$sc" .) || status=1
else
	log "staticcheck unavailable (offline?): failing the run"
	status=1
fi

log "gofmt -l"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	printf 'not gofmt-ed:\n%s\n' "$unformatted" >&2
	status=1
fi

# --- 3. tests ---------------------------------------------------------------
# The packages whose goroutines share state (connection serving, the
# handshake path, the stapler's loops, the daemon's accept and reload) run
# once, under the race detector: about a minute on 2 cores, instead of the
# half-minute their plain run takes.
race_pkgs="tlsfront/proxy tlsfront/tlsconf tlsfront/stapling tlsfront/server"
if [ -n "${TEST_PACKAGES:-}" ]; then
	pkgs="$TEST_PACKAGES"
	race_pkgs=""
else
	pkgs="$(go list ./... | grep -vxF -e tlsfront/proxy -e tlsfront/tlsconf -e tlsfront/stapling -e tlsfront/server)"
fi
log "go test -count=1 -timeout 20m ${GOTESTFLAGS:-} ${TEST_PACKAGES:-./... (but $race_pkgs)}"
# shellcheck disable=SC2086 # GOTESTFLAGS and pkgs are lists
go test -count=1 -timeout 20m ${GOTESTFLAGS:-} $pkgs || status=1
if [ -n "$race_pkgs" ]; then
	log "go test -race -count=1 -timeout 20m ${GOTESTFLAGS:-} $race_pkgs"
	# shellcheck disable=SC2086
	go test -race -count=1 -timeout 20m ${GOTESTFLAGS:-} $race_pkgs || status=1
fi

# --- 3b. the -tags openssl build ---------------------------------------------
# The OpenSSL-backed RSA signer (tlsconf/signer_openssl.go) is optional and
# off by default; its build is vetted and its tests run here with cgo.
if command -v gcc >/dev/null 2>&1 && [ -f /usr/include/openssl/evp.h ]; then
	log "-tags openssl: go vet, staticcheck, go test ./tlsconf ./cmd/tlsfront"
	export CGO_ENABLED=1
	go vet -tags openssl ./tlsconf ./cmd/tlsfront || status=1
	if [ -x "$sc" ]; then
		"$sc" -tags openssl ./tlsconf ./cmd/tlsfront || status=1
	fi
	go test -count=1 -tags openssl ./tlsconf ./cmd/tlsfront || status=1
	unset CGO_ENABLED
elif [ "${CI:-}" = true ]; then
	log "gcc or libssl-dev missing under CI=true: the -tags openssl build cannot be tested"
	status=1
else
	log "gcc or libssl-dev missing: skipping the -tags openssl build"
fi

# --- 4. fuzzing -------------------------------------------------------------
# Every fuzz target for FUZZTIME (FUZZ_LIST=1 bash scripts/fuzz.sh lists them); a crasher is
# written under testdata/fuzz: commit it and it becomes a regression test.
if [ "${SKIP_FUZZ:-}" != 1 ]; then
	FUZZTIME="${FUZZTIME:-10s}" bash scripts/fuzz.sh || status=1
fi

# --- leftovers --------------------------------------------------------------
# Every test stops what it started; a survivor is a bug in a clean-up.
leftovers="$(pgrep -af -- 'httpd\.conf -DFOREGROUND|tlsfront-itest/[0-9a-f]+/tlsfront' || true)"
if [ -n "$leftovers" ]; then
	printf 'processes left running by the tests:\n%s\n' "$leftovers" >&2
	status=1
fi

if [ "$status" -ne 0 ]; then
	log "FAILED"
else
	log "ok"
fi
exit "$status"
