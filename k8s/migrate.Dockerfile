# syntax=docker/dockerfile:1
# The migration image for the cluster's Job (k8s/base/migrate-job.yaml): the
# refinery `migrate` binary of crates/native, the same one scripts/run uses.
# migrations/*.sql are compiled into it (refinery's embed_migrations!), so the
# SQL comes from this checkout and nothing is copied by hand; spin.toml comes
# along because migrate builds the connection string from the app's db_*
# variables (its defaults, overridden by SPIN_VARIABLE_*), as the components do.
#
# CI does not build it (its machines have no container engine).
#
# Build from the repository's root:
#   docker build -f k8s/migrate.Dockerfile -t <registry>/todo-spin-migrate:<tag> .

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The caches persist between builds on one machine; the binary is copied out
# of the target cache in the same step, since a cache mount is not part of
# the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile native-release --locked -p native --bin migrate \
    && cp target/native-release/migrate /usr/local/bin/migrate

# Only glibc and libgcc are linked (no OpenSSL, no libpq), which this image has.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/migrate /usr/local/bin/migrate
COPY --from=build /src/spin.toml /app/spin.toml
WORKDIR /app
# Numeric, so that Kubernetes can check runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/migrate", "--manifest", "/app/spin.toml"]
