"""Judge a pip-audit JSON report (``scripts/audit.sh``): the exit status of the audit and what to print.

Exit 1: a vulnerability with a fixed release, or pip-audit failed for another reason than the network.
Exit 0: nothing fixable found, or the vulnerability service could not be reached (with a loud warning).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: pip-audit's words when it cannot reach the vulnerability service.
_NETWORK_ERRORS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "ReadTimeout",
    "ConnectTimeout",
)


@dataclass(frozen=True)
class Verdict:
    status: int
    lines: list[str]


def judge(report: dict[str, Any] | None, stderr: str, audit_status: int) -> Verdict:
    """The verdict on one audit: ``report`` is pip-audit's JSON (None when it wrote none)."""
    if report is None:
        if any(word in stderr for word in _NETWORK_ERRORS):
            return _unreachable(stderr.strip().splitlines()[-1:])
        failure = f"pip-audit failed (exit {audit_status}) without a report:"
        return Verdict(1, [failure, stderr.strip()[-2000:]])
    dependencies = report.get("dependencies", [])
    audited = [dep for dep in dependencies if "skip_reason" not in dep]
    if dependencies and not audited:
        example = dependencies[0]["skip_reason"]
        return _unreachable([f"all {len(dependencies)} packages skipped, e.g. {example}"])
    fixable, unfixable = [], []
    for dep in audited:
        for vuln in dep.get("vulns", []):
            line = f"{dep['name']} {dep['version']}: {vuln['id']}"
            if vuln.get("fix_versions"):
                fixable.append(f"{line} (fixed in {', '.join(vuln['fix_versions'])})")
            else:
                unfixable.append(f"{line} (no fixed release yet)")
    skipped = len(dependencies) - len(audited)
    lines = [f"audited {len(audited)} packages ({skipped} skipped): {len(fixable)} fixable vulnerabilities"]
    lines += [f"WARNING {line}" for line in unfixable]
    lines += [f"FIXABLE {line}" for line in fixable]
    return Verdict(1 if fixable else 0, lines)


def _unreachable(evidence: list[str]) -> Verdict:
    return Verdict(
        0,
        [
            "WARNING: dependency audit NOT DONE: the vulnerability service (PyPI JSON API) is unreachable.",
            *evidence,
            "Run scripts/audit.sh on a machine with internet access.",
        ],
    )


def main() -> None:
    report_path, stderr_path, audit_status = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        report = None
    stderr = stderr_path.read_text(errors="replace") if stderr_path.exists() else ""
    verdict = judge(report, stderr, audit_status)
    print("\n".join(verdict.lines))
    raise SystemExit(verdict.status)


if __name__ == "__main__":
    main()
