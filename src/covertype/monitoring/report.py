"""``covertype monitor``'s table: one line per evaluated batch, drifted batches highlighted."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from covertype.store.quality import DRIFT_MIN_ROWS, NO_VERDICT_SHORT, BatchQuality, DriftStatus


def quality_table(rows: Sequence[BatchQuality], *, threshold: float) -> Table:
    """The ``batch_quality`` rows as a rich table; the drift score of a drifted batch is shown in red."""
    table = Table(
        title="The champion on each batch, before training on it", caption=_caption(rows, threshold)
    )
    for header in ("group", "batch", "version", "rows", "accuracy", "macro-F1", "drift", "drifted features"):
        table.add_column(header, justify="left" if header == "drifted features" else "right")
    for row in rows:
        drift = (
            f"{row.drift_score:.3f}"
            if row.drift_status.judged
            else NO_VERDICT_SHORT.get(row.drift_status, "n/a")
        )
        if row.drift_status == DriftStatus.DRIFTED:
            drift = f"[red]{drift}[/red]"
        table.add_row(
            str(row.group_number),
            str(row.batch_number),
            f"v{row.model_version}",
            str(row.rows),
            f"{row.accuracy:.4f}",
            f"{row.macro_f1:.4f}",
            drift,
            ", ".join(row.drifted_features) or "-",
        )
    return table


def _caption(rows: Sequence[BatchQuality], threshold: float) -> str:
    if not rows:
        return "no batch evaluated yet: batches are evaluated once a champion exists"
    return (
        "drift: largest population stability index among the features whose difference is beyond chance "
        f"at these sample sizes; red: drifted (above {threshold:g}); too few rows: no verdict under "
        f"{DRIFT_MIN_ROWS} rows (batch or training data); n/a: the version has no profile; unjudged: "
        "measured before the size-aware test"
    )
