# modferry's container image: one static binary on an empty base, run as a
# non-root user, with the module store on a volume.
#
#   podman build --format docker -t modferry .     (or: docker build -t modferry .)
#   podman run -d --name modferry -p 3000:3000 -v modferry-data:/data modferry
#
# The store lives in /data (a volume, owned by uid 65532). Import bundles
# through the server (modferry import --server URL, with serve --pubkey) or
# with a one-off container on the same volume:
#   podman run --rm -v modferry-data:/data -v ./in:/in:ro modferry \
#       import --pubkey /in/ferry.key.pub --store /data /in/deps.tar.zst
#
# GO_IMAGE is the build stage's image: any image with Go 1.26 or newer on
# its PATH. The RUN steps use the exec form, so it needs no shell.
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN ["go", "mod", "download"]
COPY cmd ./cmd
COPY internal ./internal
RUN ["go", "build", "-ldflags=-s -w", "-o", "/out/modferry", "./cmd/modferry"]
# Empty directories for the final stage. There is no shell for mkdir: a
# RUN makes its WORKDIR exist.
WORKDIR /out/data
RUN ["go", "version"]
WORKDIR /out/tmp
RUN ["go", "version"]

FROM scratch
COPY --from=build /out/modferry /modferry
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build --chown=65532:65532 /out/tmp /tmp
USER 65532:65532
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=6s --start-period=10s --retries=3 \
    CMD ["/modferry", "healthcheck", "--url", "http://127.0.0.1:3000/healthz"]
ENTRYPOINT ["/modferry"]
CMD ["serve", "--store", "/data", "--addr", "0.0.0.0:3000"]
