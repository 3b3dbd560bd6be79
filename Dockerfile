# syntax=docker/dockerfile:1
#
# tlsfront as a container sidecar: one static binary (CGO_ENABLED=0) on
# distroless/static, running as the unprivileged "nonroot" user (65532).
#
#   docker build -t tlsfront --build-arg VERSION=v1.0.0 .
#   docker run -d --name tlsfront -p 443:8443 -p 80:8080 \
#     -v /srv/tlsfront:/etc/tlsfront:ro \
#     -v tlsfront-state:/var/lib/tlsfront \
#     tlsfront
#
# Configuration: /etc/tlsfront/tlsfront.toml, mounted read-only together
# with the certificates it names (relative paths resolve against
# /etc/tlsfront; keys must be readable by uid 65532). In the container set
#   [server]
#   https = ":8443"                    # published as 443
#   http = ":8080"                     # published as 80
#   state_dir = "/var/lib/tlsfront"    # the writable volume: OCSP cache,
#                                      # generated self-signed certificate
# Scalar keys can also come from the environment (TLSFRONT_SITE_BACKEND
# style, see README.md). Logs go to stdout (TLSFRONT_LOG_OUTPUT below).
#
# Signals: `docker kill -s HUP tlsfront` reloads; `docker stop` sends
# SIGTERM and tlsfront drains for up to server.shutdown_timeout (30s), so
# use `docker stop -t 40` (Docker's default grace is 10s).
#
# The premise of this image, that the binary serves from a root holding
# nothing but itself, its config and certificates, is proved without Docker
# by integration/container_test.go.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
# Keep these flags in step with integration/container_test.go.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags="-s -w -X main.version=${VERSION}" \
        -o /out/tlsfront ./cmd/tlsfront \
    && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tlsfront /tlsfront
COPY --from=build --chown=65532:65532 /out/state /var/lib/tlsfront
USER 65532:65532
# Logs (process and access) on stdout, as container runtimes expect.
ENV TLSFRONT_LOG_OUTPUT=stdout
EXPOSE 8443 8080
VOLUME ["/var/lib/tlsfront"]
# `tlsfront health` completes a TLS handshake with the HTTPS listener
# named in the config and exits 0, or exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/tlsfront", "health", "-config", "/etc/tlsfront/tlsfront.toml"]
ENTRYPOINT ["/tlsfront"]
CMD ["-config", "/etc/tlsfront/tlsfront.toml"]
