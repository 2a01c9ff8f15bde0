#!/usr/bin/env bash
# Dependency audit: every package of uv.lock (all extras and groups) checked with pip-audit against PyPI's
# vulnerability data. Fails on a known vulnerability that has a fixed release (upgrade it in uv.lock);
# vulnerabilities without a fix yet are listed as warnings. When the vulnerability service cannot be
# reached (no network, or a registry mirror without PyPI's JSON API), it says so loudly and exits 0:
# that, and only that, is not a failure. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

uv export --frozen --all-extras --all-groups --no-hashes --no-emit-project --quiet >"$work/requirements.txt"
status=0
uv run --frozen pip-audit --requirement "$work/requirements.txt" --no-deps --disable-pip \
  --progress-spinner off --timeout 30 --format json --output "$work/audit.json" 2>"$work/stderr" || status=$?
uv run --frozen python scripts/audit_report.py "$work/audit.json" "$work/stderr" "$status"
