"""Render the README's table of faults on the production topology from the harness's results file.

    uv run python scripts/fault_table.py          # rewrites the README's block between the markers
    uv run python scripts/fault_table.py --check  # exit 1 when the README's block is not what this writes

The figures come from one run of ``tests/deploy/topology/`` (every fault stage), which writes
``benchmarks/results/topology_faults.json``; this script is the only writer of the README's block, so no
figure of it is typed by hand. ``tests/deploy/test_fault_table.py`` runs the check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "topology_faults.json"
README = ROOT / "README.md"
BEGIN = "<!-- fault-table:begin (scripts/fault_table.py writes this block) -->"
END = "<!-- fault-table:end -->"


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def render(results: dict[str, Any]) -> str:
    """The block: the fault table, then the recovery timeouts the harness ran with and production's."""
    figures = results["figures"]
    machine = results["machine"]
    lines = [
        BEGIN,
        "",
        f"Measured {results['date'][:10]} at commit `{results['commit']}` on {machine['cores']} cores "
        f"({machine['cpu']}), load average {results['load_average_before'][0]} before and "
        f"{results['load_average_after'][0]} after (the whole topology and its trainings share the cores); "
        f"batch interval {figures['batch_interval_seconds']:.0f} s. "
        "Source: `benchmarks/results/topology_faults.json`.",
        "",
        "| fault: what was killed, and when | recovered in | rows lost / duplicated "
        "| versions registered | failed predictions | test |",
        "| --- | ---: | --- | ---: | --- | --- |",
    ]
    for row in figures["faults"]:
        predictions = (
            "n/a"
            if row.get("failed_predictions") is None
            else f"{row['failed_predictions']:,} of {row['predictions']:,}"
            if row.get("predictions") is not None
            else _cell(row["failed_predictions"])
        )
        lines.append(
            f"| {row['fault']} | {row['recovery_seconds']} s | {_cell(row.get('rows_lost'))} / "
            f"{_cell(row.get('rows_duplicated'))} | {_cell(row.get('versions_registered'))} | {predictions} "
            f"| `{row['test']}` |"
        )
    lines += [
        "",
        "How each recovered:",
        "",
        *(f"- {row['key']}: {row['recovered_by']}" for row in figures["faults"] if row.get("recovered_by")),
        "",
        "Airflow's timeouts that decide recovery, shortened in the harness:",
        "",
        "| setting | harness | production | what it decides |",
        "| --- | ---: | ---: | --- |",
        *(
            f"| `{key}` | {value['harness']} | {value['production']} | {value['what']} |"
            for key, value in figures["recovery_timeouts"].items()
        ),
        "",
        "Every stage of that run (the harness's start, stages 1-4, the faults, the stop), in seconds:",
        "",
        "| stage | seconds |",
        "| --- | ---: |",
        *(f"| {name} | {seconds} |" for name, seconds in figures["stages_seconds"].items()),
        f"| **total** | **{sum(figures['stages_seconds'].values()):.1f}** |",
        "",
        END,
    ]
    return "\n".join(lines)


def replaced(readme: str, block: str) -> str:
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + block + readme[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the README's block is stale")
    args = parser.parse_args()
    readme = README.read_text()
    wanted = replaced(readme, render(json.loads(RESULTS.read_text())))
    if args.check:
        if wanted != readme:
            print(f"{README.name}: the fault table is not {RESULTS.name}'s; run scripts/fault_table.py")
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
