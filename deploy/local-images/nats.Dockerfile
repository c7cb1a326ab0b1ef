# Stand-in for the official nats image, made from Debian's nats-server on the locally made
# base (scripts/compose-test: no registry is reachable there). Same entry point shape: the
# compose file's command is nats-server's arguments; wget serves the same health check.
ARG BASE_IMAGE=ssmd-compose/debian:bookworm
FROM ${BASE_IMAGE}
# The package creates the nats user.
RUN apt-get update && apt-get install -y --no-install-recommends nats-server wget \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir /data && chown nats /data
USER nats
ENTRYPOINT ["nats-server"]
