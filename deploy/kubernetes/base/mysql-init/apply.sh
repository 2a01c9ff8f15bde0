#!/bin/sh
# The mysql-init Job (setup-jobs.yaml): what the compose stack's MySQL image does on its first start, made
# repeatable against any MySQL 8 / MariaDB server (in the cluster or managed): init.sql (databases, locked
# users, grants, tables; all IF NOT EXISTS), then the users' passwords from the Secret mysql-admin.
# Safe to run again: nothing is dropped, passwords are set to the Secret's values.
set -eu
umask 077

: "${MYSQL_HOST:?}" "${MYSQL_PORT:?}" "${MYSQL_ADMIN_USER:?}" "${MYSQL_ADMIN_PASSWORD:?}"
: "${MYSQL_COVERTYPE_PASSWORD:?}" "${MYSQL_MLFLOW_PASSWORD:?}"

here=$(dirname "$0")
# The admin password goes to the client through an option file on the /tmp emptyDir, never argv.
options="${TMPDIR:-/tmp}/mysql-init-admin.cnf"
printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword=%s\n' \
  "$MYSQL_HOST" "$MYSQL_PORT" "$MYSQL_ADMIN_USER" "$MYSQL_ADMIN_PASSWORD" >"$options"
trap 'rm -f "$options"' EXIT
client() { mysql --defaults-extra-file="$options" "$@"; }

# A SQL string literal: backslashes and quotes doubled, so any password is taken as it is.
sql_string() {
  printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
}

# The server may still be starting (the dev StatefulSet): wait up to MYSQL_WAIT_SECONDS.
waited=0
until client --execute 'SELECT 1' >/dev/null 2>&1; do
  if [ "$waited" -ge "${MYSQL_WAIT_SECONDS:-300}" ]; then
    echo "mysql-init: ${MYSQL_HOST}:${MYSQL_PORT} did not answer in ${waited} s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done

client <"$here/init.sql"
client <<EOSQL
ALTER USER 'covertype'@'%' IDENTIFIED BY $(sql_string "$MYSQL_COVERTYPE_PASSWORD") ACCOUNT UNLOCK;
ALTER USER 'mlflow'@'%' IDENTIFIED BY $(sql_string "$MYSQL_MLFLOW_PASSWORD") ACCOUNT UNLOCK;
EOSQL
echo "mysql-init: databases, users and tables are in place on ${MYSQL_HOST}:${MYSQL_PORT}"
