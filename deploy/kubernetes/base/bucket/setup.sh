#!/bin/sh
# The bucket Job (setup-jobs.yaml), the compose stack's minio-setup: buckets mlflows3 (MLflow artifacts)
# and snapshots (training snapshots), and the service user the MLflow server and the Airflow workers use,
# with the readwrite policy. Idempotent: buckets are made only when missing, the policy attached once.
set -eu

: "${MINIO_URL:?}" "${MINIO_ROOT_USER:?}" "${MINIO_ROOT_PASSWORD:?}"
: "${MINIO_SERVICE_ACCESS_KEY:?}" "${MINIO_SERVICE_SECRET_KEY:?}"

# mc keeps its aliases (with the root password) in its config dir: the /tmp emptyDir.
mc() { command mc --config-dir /tmp/mc "$@"; }

attempt=0
until mc alias set local "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "bucket: ${MINIO_URL} did not answer in 5 minutes" >&2
    exit 1
  fi
  sleep 5
done

mc mb --ignore-existing local/mlflows3
mc mb --ignore-existing local/snapshots
mc admin user add local "$MINIO_SERVICE_ACCESS_KEY" "$MINIO_SERVICE_SECRET_KEY"
case "$(mc admin user info local "$MINIO_SERVICE_ACCESS_KEY")" in
  *readwrite*) echo "bucket: policy readwrite already attached" ;;
  *) mc admin policy attach local readwrite --user "$MINIO_SERVICE_ACCESS_KEY" ;;
esac
