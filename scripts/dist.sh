#!/usr/bin/env bash
# scripts/dist.sh — build the release artefacts of the checked-out commit into dist/.
#
#   bash scripts/dist.sh
#
# Builds, with the Go toolchain and pinned tools only:
#   tlsfront-VERSION-linux-{amd64,arm64}         static binaries (CGO_ENABLED=0, -trimpath)
#   tlsfront-openssl-VERSION-linux-amd64          the -tags openssl build (cgo: links
#                                                 libcrypto.so.3 and glibc, not static)
#   tlsfront_PKGVER-1_{amd64,arm64}.deb           packages made by nfpm: /usr/bin/tlsfront,
#   tlsfront-PKGVER-1.{x86_64,aarch64}.rpm        the systemd units, /etc/tlsfront/tlsfront.toml
#   tlsfront-openssl_PKGVER-1_amd64.deb           (kept on upgrade and removal), the docs;
#   tlsfront-openssl-PKGVER-1.x86_64.rpm          the openssl variant depends on libssl3
#   tlsfront-VERSION-linux-{amd64,arm64}.oci.tar  the container image (packaging/Containerfile,
#                                                 FROM scratch), an OCI archive for podman load
#   SHA256SUMS                                    sha256sum -c SHA256SUMS checks them all
#
# VERSION is `git describe --tags --always --dirty` (stamped into the binary,
# shown by `tlsfront version`); PKGVER is the package version made from it:
# v1.2.3 -> 1.2.3, v1.2.3-4-gabcdef0 -> 1.2.3+4.gabcdef0 (sorts after 1.2.3),
# v1.2.3-rc1 -> 1.2.3~rc1 (sorts before), no tag -> 0.0.0+git<commit time>.<hash>;
# "-dirty" becomes ".dirty".
#
# Reproducible: SOURCE_DATE_EPOCH is the commit's time, and two runs on one
# commit give byte-identical binaries and packages (integration/dist_test.go
# builds twice and compares). The image's layer is identical too; its
# config is not, because podman 4.3's Docker-format config records the
# random ID and host name of the build container.
#
# Needs: git, go; podman for the image; gcc and libssl-dev for the openssl
# variant. nfpm runs as `go run github.com/goreleaser/nfpm/v2/cmd/nfpm@NFPM_VERSION`
# (from the Go module cache, downloaded through the module proxy once).
#
# Environment:
#   DIST_DIR          output folder, relative to the repository (default dist); emptied
#                     first, so another folder must be empty or hold an earlier build
#   VERSION           the version to stamp (default: git describe, as above)
#   DIST_IMAGE        1 (default) builds the image, 0 skips it
#   DIST_OPENSSL      1 (default) builds the openssl variant, 0 skips it
#   NFPM_VERSION      module version of nfpm (default below)
#   SOURCE_DATE_EPOCH default: the commit time of HEAD
set -euo pipefail

cd "$(dirname "$0")/.."

NFPM_VERSION="${NFPM_VERSION:-v2.48.0}"
nfpm_pkg="github.com/goreleaser/nfpm/v2/cmd/nfpm@${NFPM_VERSION}"
out="${DIST_DIR:-dist}"
arches=(amd64 arm64)

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'dist.sh: error: %s\n' "$*" >&2
	exit 1
}

# Files are written with fixed modes below; the umask only matters for the
# folders, which no artefact records.
umask 022
export LC_ALL=C TZ=UTC

command -v git >/dev/null || die "git not found"
command -v go >/dev/null || die "go not found"
git rev-parse --git-dir >/dev/null 2>&1 || die "not a git checkout: VERSION and SOURCE_DATE_EPOCH come from git"

# --- version ----------------------------------------------------------------
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH

# pkg_version maps a git describe output onto a version dpkg and rpm both
# order correctly (no "-", which rpm forbids; "+" sorts after, "~" before).
pkg_version() {
	local v="$1" dirty="" post="" tag
	if [[ "$v" == *-dirty ]]; then
		v="${v%-dirty}"
		dirty=.dirty
	fi
	if [[ "$v" =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		v="${BASH_REMATCH[1]}"
		post="+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
	fi
	if [[ "$v" =~ ^v?([0-9]+\.[0-9]+\.[0-9]+)(-([0-9A-Za-z.]+))?$ ]]; then
		tag="${BASH_REMATCH[1]}"
		[ -z "${BASH_REMATCH[3]}" ] || tag="$tag~${BASH_REMATCH[3]}"
		printf '%s%s%s\n' "$tag" "$post" "$dirty"
	elif [[ "$v" =~ ^[0-9a-f]{7,40}$ ]]; then
		printf '0.0.0+git%s.%s%s\n' "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S)" "$v" "$dirty"
	else
		die "version \"$1\" is neither vX.Y.Z[-pre][-N-gHASH] nor a commit hash: tag releases vX.Y.Z"
	fi
}
# `dist.sh --pkg-version V` prints the package version of V (for tests).
if [ "${1:-}" = --pkg-version ]; then
	pkg_version "${2:?usage: dist.sh --pkg-version GIT-DESCRIBE-OUTPUT}"
	exit 0
fi
[ $# -eq 0 ] || die "unexpected argument $1 (usage: scripts/dist.sh, configured by environment variables)"

VERSION="${VERSION:-$(git describe --tags --always --dirty --match 'v[0-9]*')}"
PKG_VERSION="$(pkg_version "$VERSION")"
log "version $VERSION (packages $PKG_VERSION), SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH"
[[ "$VERSION" != *-dirty ]] || log "warning: uncommitted changes are in this build (version $VERSION)"

if [ "$out" != dist ] && [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && ! [ -e "$out/SHA256SUMS" ]; then
	die "DIST_DIR=$out is not empty and holds no earlier build (no SHA256SUMS): not emptying it"
fi
rm -rf "$out"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$out/.stage"
mkdir -p "$stage"
trap 'rm -rf "$stage"' EXIT

# --- binaries ---------------------------------------------------------------
# The flags are the Dockerfile's (integration/dist_image_test.go holds them
# together): -buildvcs=false because the version is stamped explicitly.
ldflags="-s -w -X main.version=${VERSION}"
for arch in "${arches[@]}"; do
	bin="$out/tlsfront-${VERSION}-linux-${arch}"
	log "go build linux/$arch (static)"
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" \
		go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$bin" ./cmd/tlsfront
	chmod 0755 "$bin"
done

openssl=""
if [ "${DIST_OPENSSL:-1}" = 1 ]; then
	if [ "$(go env GOHOSTARCH)" != amd64 ]; then
		die "the openssl variant is built for amd64 on an amd64 host (cgo, no cross compiler here); DIST_OPENSSL=0 skips it"
	fi
	command -v gcc >/dev/null || die "gcc not found: the openssl variant needs cgo (apt-get install gcc libssl-dev, or DIST_OPENSSL=0)"
	[ -f /usr/include/openssl/evp.h ] || die "libssl-dev not found: the openssl variant links libcrypto (apt-get install libssl-dev, or DIST_OPENSSL=0)"
	openssl="$out/tlsfront-openssl-${VERSION}-linux-amd64"
	log "go build -tags openssl linux/amd64 (cgo, dynamic: libcrypto.so.3)"
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 \
		go build -tags openssl -trimpath -buildvcs=false -ldflags="$ldflags" -o "$openssl" ./cmd/tlsfront
	chmod 0755 "$openssl"
fi

# --- packages ---------------------------------------------------------------
# stage_files DIR BINARY: the files of one package, as nfpm.yaml names them.
stage_files() {
	local dir="$1" bin="$2" u n
	mkdir -p "$dir/doc"
	install -m 0755 "$bin" "$dir/tlsfront"
	# The units as in systemd/, run from the package's /usr/bin.
	for u in tlsfront.service tlsfront.socket tlsfront-http.socket; do
		sed -E 's|^(Exec[A-Za-z]*=)/usr/local/bin/tlsfront|\1/usr/bin/tlsfront|' "systemd/$u" >"$dir/$u"
		chmod 0644 "$dir/$u"
		! grep -q '^Exec[A-Za-z]*=/usr/local/bin' "$dir/$u" || die "systemd/$u: an Exec line still names /usr/local/bin"
	done
	n="$(grep -c '^Exec[A-Za-z]*=/usr/bin/tlsfront ' "$dir/tlsfront.service")"
	[ "$n" = 2 ] || die "systemd/tlsfront.service: want ExecStart and ExecReload on /usr/local/bin/tlsfront, found $n"
	packaged_config >"$dir/tlsfront.toml"
	chmod 0644 "$dir/tlsfront.toml"
	install -m 0644 README.md "$dir/doc/README.md"
	install -m 0644 config.example.toml "$dir/doc/config.example.toml"
	install -m 0644 systemd/README.md "$dir/doc/README.systemd.md"
	for f in LICENSE LICENSE.md COPYING; do
		if [ -f "$f" ]; then install -m 0644 "$f" "$dir/doc/$f"; fi
	done
	# nfpm takes the times of a tree's files from the disk.
	find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# packaged_config prints config.example.toml with the production values a
# package installs: the public ports, the unit's StateDirectory=, Apache on
# 127.0.0.1:8080 (README "The Apache side"). Every key stays documented.
packaged_config() {
	local cfg
	cfg="$(awk '
		/^# This example runs unprivileged/ {
			print "# Installed by the tlsfront package as /etc/tlsfront/tlsfront.toml, which the"
			print "# package manager keeps on upgrade and removal. HTTPS on :443, HTTP on :80,"
			print "# state in /var/lib/tlsfront (the unit'"'"'s StateDirectory=), Apache moved to"
			print "# 127.0.0.1:8080. Name your sites and certificates below, then:"
			print "#   tlsfront -t -config /etc/tlsfront/tlsfront.toml && systemctl enable --now tlsfront"
			skip = 1; next
		}
		skip && /^# In production use/ { skip = 0; next }
		skip { next }
		{ print }
	' config.example.toml |
		sed -E \
			-e 's|^https = ":8443"( *)#|https = ":443" \1#|' \
			-e 's|^http = ":8080"( *)#|http = ":80"  \1#|' \
			-e 's|^state_dir = "state"( *)#|state_dir = "/var/lib/tlsfront" #|' \
			-e 's|^backend = "http://127.0.0.1:8081"|backend = "http://127.0.0.1:8080"|')"
	local want
	for want in '^https = ":443" ' '^http = ":80" ' '^state_dir = "/var/lib/tlsfront" ' \
		'^backend = "http://127.0.0.1:8080"' '^# Installed by the tlsfront package'; do
		grep -q -- "$want" <<<"$cfg" || die "config.example.toml changed: the packaged config lacks /$want/ (update packaged_config in scripts/dist.sh)"
	done
	printf '%s\n' "$cfg"
}

nfpm() { GOFLAGS= go run "$nfpm_pkg" "$@"; }

# package NAME ARCH BINARY: one .deb and one .rpm.
package() {
	local name="$1" arch="$2" bin="$3" dir="$stage/$1-$2" fmt
	stage_files "$dir" "$bin"
	(
		export PKG_NAME="$name" PKG_ARCH="$arch" PKG_VERSION STAGE="$dir"
		export PKG_CONFLICTS="" PKG_PROVIDES="" DEB_DEPENDS_LIBC="" DEB_DEPENDS_SSL="" RPM_DEPENDS_LIBC="" RPM_DEPENDS_SSL=""
		export PKG_DESCRIPTION_VARIANT="This build is one static binary (pure Go, CGO_ENABLED=0)."
		if [ "$name" = tlsfront-openssl ]; then
			# Replaces the static package (same files), signs RSA with libcrypto.
			PKG_CONFLICTS=tlsfront PKG_PROVIDES=tlsfront
			PKG_DESCRIPTION_VARIANT="This build signs with RSA keys through OpenSSL's libcrypto (-tags openssl)."
			local glibc
			glibc="$(glibc_needed "$bin")"
			DEB_DEPENDS_LIBC="libc6 (>= $glibc)"
			DEB_DEPENDS_SSL="libssl3 | libssl3t64"
			RPM_DEPENDS_LIBC="libc.so.6(GLIBC_$glibc)(64bit)"
			RPM_DEPENDS_SSL="libcrypto.so.3()(64bit)"
		fi
		for fmt in deb rpm; do
			log "nfpm $fmt $name $arch"
			nfpm pkg --config packaging/nfpm.yaml --packager "$fmt" --target "$out/" >/dev/null
		done
	)
}

# glibc_needed prints the newest GLIBC_x.y symbol version BINARY needs.
glibc_needed() {
	local v
	command -v objdump >/dev/null || die "objdump not found (binutils): it reads the glibc versions the openssl build needs"
	v="$(objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n | tail -1)"
	[ -n "$v" ] || die "$1: no GLIBC_ symbol versions found"
	printf '%s\n' "$v"
}

for arch in "${arches[@]}"; do
	package tlsfront "$arch" "$out/tlsfront-${VERSION}-linux-${arch}"
done
[ -z "$openssl" ] || package tlsfront-openssl amd64 "$openssl"

# --- image ------------------------------------------------------------------
if [ "${DIST_IMAGE:-1}" = 1 ]; then
	command -v podman >/dev/null || die "podman not found: the image needs it (apt-get install podman runc, or DIST_IMAGE=0)"
	ca=/etc/ssl/certs/ca-certificates.crt
	[ -f "$ca" ] || die "$ca not found: the image carries the build machine's CA bundle (apt-get install ca-certificates)"
	for arch in "${arches[@]}"; do
		ctx="$stage/image-$arch"
		mkdir -p "$ctx/state"
		chmod 0755 "$ctx/state"
		install -m 0755 "$out/tlsfront-${VERSION}-linux-${arch}" "$ctx/tlsfront"
		install -m 0644 "$ca" "$ctx/ca-certificates.crt"
		# distroless' "nonroot" user, the Dockerfile's USER.
		printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/passwd"
		printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/group"
		chmod 0644 "$ctx/passwd" "$ctx/group"
		archive="$out/tlsfront-${VERSION}-linux-${arch}.oci.tar"
		log "podman build linux/$arch -> $(basename "$archive")"
		# One layer (--layers=false), file times clamped to SOURCE_DATE_EPOCH
		# (--timestamp); Docker format, the only one with HEALTHCHECK. The
		# archive is an OCI layout holding that Docker manifest: a plain
		# `podman save --format oci-archive` converts it and drops HEALTHCHECK.
		id="$(podman build --quiet --layers=false --format docker --timestamp "$SOURCE_DATE_EPOCH" \
			--platform "linux/$arch" -f packaging/Containerfile "$ctx")"
		if ! podman push --quiet --format v2s2 "$id" "oci-archive:$archive:localhost/tlsfront:$VERSION"; then
			podman rmi --force "$id" >/dev/null 2>&1 || true
			die "podman push to $archive failed"
		fi
		# The archive is the product: leave nothing behind in podman's storage.
		podman rmi --force "$id" >/dev/null
	done
fi

# --- checksums --------------------------------------------------------------
rm -rf "$stage"
(cd "$out" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort | xargs sha256sum >SHA256SUMS)
log "done: $out"
(cd "$out" && ls -l)
