# syntax=docker/dockerfile:1

# rtcmesh: one static binary in an otherwise empty image.
#
#   docker build -t rtcmesh:local .
#   docker run --rm -p 3001:3001 rtcmesh:local dev --addr :3001 --nats-addr 0.0.0.0:4222
#
# The entrypoint is the binary, so the container's command is an rtcmesh
# subcommand with its flags (nats, gateway, roomsvc, presence watch, ...).
# docker-compose.yml runs the split deployment; docs/deployment.md explains it.

# --- build ----------------------------------------------------------------
FROM golang:1.26 AS build
WORKDIR /src

# Modules first, so that source edits do not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
# CGO off: a static binary that needs no libc. -trimpath and -s -w: no
# build paths or symbol tables in the image. -buildvcs=false: .git is not
# in the build context (.dockerignore).
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o /out/rtcmesh ./cmd/rtcmesh

# The directories the runtime needs, made here because scratch has no
# shell: /data is where `rtcmesh nats` keeps its JetStream store (a new
# named volume mounted there takes this owner, so the non-root user can
# write to it); /tmp is where `rtcmesh dev` puts its store without --store.
RUN mkdir -p /out/rootfs/data /out/rootfs/tmp && chmod 0750 /out/rootfs/data && chmod 1777 /out/rootfs/tmp

# --- runtime --------------------------------------------------------------
FROM scratch

# CA roots, only for NATS over TLS (tls:// URLs in --nats); nothing else in
# rtcmesh makes outgoing TLS connections.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/rootfs/ /
COPY --from=build /out/rtcmesh /rtcmesh

# An unprivileged numeric user (no /etc/passwd in scratch).
USER 65532:65532
WORKDIR /data
# Gateways (and `rtcmesh dev`) serve HTTP and Socket.IO here; `rtcmesh nats`
# listens on 4222 (clients) and 6222 (cluster routes).
EXPOSE 3001
ENTRYPOINT ["/rtcmesh"]
CMD ["--help"]
