# Stand-in for the official postgres:15 image, made from Debian's PostgreSQL 15 on the locally
# made base (scripts/compose-test). Its entry point honours the same subset of the official
# image's contract compose.yaml relies on: POSTGRES_USER/PASSWORD/DB, PGDATA, PGPORT,
# /docker-entrypoint-initdb.d/*.sh and *.sql on a new data directory, `postgres ...` command.
ARG BASE_IMAGE=ssmd-compose/debian:bookworm
FROM ${BASE_IMAGE}
RUN mkdir -p /etc/postgresql-common/createcluster.d \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/no-main.conf \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data /var/run/postgresql \
    && chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
CMD ["postgres"]
