# ssmd images: one build stage, one slim runtime per program (select with --target or the
# PROGRAM build argument). Base images are arguments so an offline machine can substitute
# locally made ones.
ARG SWIFT_IMAGE=swift:6.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        libnats-dev libpq-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The commit the binaries report in --version and ssmd_build_info, e.g.
# `docker build --build-arg SSMD_BUILD_COMMIT=$(git rev-parse --short=12 HEAD) .`; empty: none.
ARG SSMD_BUILD_COMMIT=""
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY migrations ./migrations
# SwiftPM builds one --product per invocation; the shared modules are built only once.
RUN set -e; mkdir /out; bin=$(swift build -c release --show-bin-path); \
    for p in series-fetcher market-fetcher db-writer data-api kalshi-sim ssmd lifecycle-listener; do \
        swift build -c release --static-swift-stdlib --product "$p"; cp "$bin/$p" /out/; \
    done

FROM ${RUNTIME_IMAGE} AS runtime
# Only the C libraries the programs link: cnats, libpq, libcurl (and CA certificates for
# the real exchange over TLS); curl for health checks, socat to relay the loopback-only
# simulator onto the compose network.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libnats3.4 libpq5 libcurl4 ca-certificates curl socat \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home ssmd
COPY --from=build /out/ /usr/local/bin/
COPY migrations /usr/share/ssmd/migrations
# Two glibc malloc arenas instead of up to 8 per core (the daemons also set this, and a fixed
# 128 KiB mmap threshold, themselves: ProcessMemory.configureMalloc). Resident memory is
# measured on these static-runtime binaries by scripts/bench-footprint.
ENV SSMD_MIGRATIONS_DIR=/usr/share/ssmd/migrations \
    MALLOC_ARENA_MAX=2 \
    SSMD_LOG_FORMAT=json \
    SSMD_METRICS_HOST=0.0.0.0 \
    SSMD_METRICS_PORT=9100
USER ssmd
EXPOSE 9100
