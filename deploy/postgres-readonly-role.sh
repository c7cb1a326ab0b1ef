#!/bin/sh
# Creates the read-only role data-api connects as (runs once, on a new data volume).
# Tables are created later by db-writer's migrations, so default privileges grant SELECT on
# whatever the owner creates.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v ro_password="$SSMD_RO_PASSWORD" <<'SQL'
CREATE ROLE ssmd_ro LOGIN PASSWORD :'ro_password';
GRANT CONNECT ON DATABASE ssmd TO ssmd_ro;
GRANT USAGE ON SCHEMA public TO ssmd_ro;
ALTER DEFAULT PRIVILEGES FOR ROLE ssmd IN SCHEMA public GRANT SELECT ON TABLES TO ssmd_ro;
ALTER ROLE ssmd_ro SET default_transaction_read_only = on;
SQL
