"""Where the repository and the shared sample are."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The real 15,000-row UCI sample beside the repository (never copied into it).
SAMPLE_CSV = REPO_ROOT.parent / "shared" / "data" / "covtype-sample-15k.csv"
