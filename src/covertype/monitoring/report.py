"""``covertype monitor``'s table: one line per evaluated batch, drifted batches highlighted."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from covertype.store.quality import BatchQuality


def quality_table(rows: Sequence[BatchQuality], *, threshold: float) -> Table:
    """The ``batch_quality`` rows as a rich table; a drift score above ``threshold`` is shown in red."""
    table = Table(title="The champion on each batch, before training on it", caption=_caption(rows))
    for header in ("group", "batch", "version", "rows", "accuracy", "macro-F1", "drift", "drifted features"):
        table.add_column(header, justify="left" if header == "drifted features" else "right")
    for row in rows:
        drift = "n/a" if row.drift_score is None else f"{row.drift_score:.3f}"
        if row.drift_score is not None and row.drift_score > threshold:
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


def _caption(rows: Sequence[BatchQuality]) -> str:
    if not rows:
        return "no batch evaluated yet: batches are evaluated once a champion exists"
    return "drift: largest population stability index of any feature (n/a: the version has no profile)"
