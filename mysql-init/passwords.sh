# Sourced by the MySQL image's entrypoint after init.sql (files run in name order): sets the passwords of
# the users init.sql created, from the compose environment, and unlocks them. Not executable on purpose:
# a sourced script can use the entrypoint's docker_process_sql.

: "${MYSQL_COVERTYPE_PASSWORD:?MYSQL_COVERTYPE_PASSWORD is not set}"
: "${MYSQL_MLFLOW_PASSWORD:?MYSQL_MLFLOW_PASSWORD is not set}"

# A SQL string literal: backslashes and quotes doubled, so any password is taken as it is.
sql_string() {
  local value=${1//\\/\\\\}
  printf "'%s'" "${value//\'/\'\'}"
}

docker_process_sql --database=mysql <<EOSQL
ALTER USER 'covertype'@'%' IDENTIFIED BY $(sql_string "$MYSQL_COVERTYPE_PASSWORD") ACCOUNT UNLOCK;
ALTER USER 'mlflow'@'%' IDENTIFIED BY $(sql_string "$MYSQL_MLFLOW_PASSWORD") ACCOUNT UNLOCK;
EOSQL
