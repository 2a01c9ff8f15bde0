"""Frames as the UI's tables show them: a dash for a missing value (Streamlit would print "None")."""

from __future__ import annotations

import pandas as pd

MISSING = "—"


def readable(frame: pd.DataFrame, *, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy fit for ``st.dataframe``: times as ``YYYY-MM-DD HH:MM:SS`` text (UTC), and every missing
    value as :data:`MISSING`; numbers stay numbers in columns that have no missing value. Columns named in
    ``keep`` (links, say, where an empty cell is right) stay as they are."""
    shown = frame.copy()
    for name in shown.columns.difference(list(keep), sort=False):
        column = shown[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            text = column.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object)
            shown[name] = text.where(column.notna(), MISSING)
        elif column.isna().any():
            shown[name] = _as_text(column).where(column.notna(), MISSING)
    return shown


def _as_text(column: pd.Series) -> pd.Series:
    """Numbers of a column with gaps as text: integers without a decimal point, fractions to 4 places."""
    if not pd.api.types.is_numeric_dtype(column):
        return column.astype(object)
    present = column.dropna()
    if (present % 1 == 0).all():
        return column.astype("Int64").astype(str).astype(object)
    return column.map(lambda value: f"{value:.4f}", na_action="ignore").astype(object)
