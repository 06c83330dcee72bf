# syntax=docker/dockerfile:1
# healthd: a static binary on distroless, running as non-root. The image has
# no shell and no curl, so the HEALTHCHECK runs healthd itself.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version comes from CHANGELOG.md, embedded at build time.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o /out/healthd ./cmd/healthd \
 && /out/healthd validate --config configs/healthd.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/healthd /healthd
# No config file: healthd builds its checks from the container's environment
# (DATABASE_URL, REDIS_URL…; docs/zero-config.md). Mount one and pass
# --config (or set HEALTHD_CONFIG) to use a file instead.
# distroless's nonroot user (65532); the checks need no privileges.
USER 65532:65532
EXPOSE 8000
# `healthd check` runs the checks once in-process: exit 0 healthy, 1 failing
# (never Docker's reserved 2 for a failing check). Point it at the running
# daemon instead with: CMD ["/healthd", "check", "--url", "http://127.0.0.1:8000/ht/liveness/"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["/healthd", "check"]
ENTRYPOINT ["/healthd"]
CMD ["serve"]
