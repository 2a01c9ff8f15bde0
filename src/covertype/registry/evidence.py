"""How sure a measured accuracy is, and the holdout comparison training records for every page to read.

An accuracy is a count of right answers out of some rows: :func:`wilson_interval` bounds it (95 %),
:func:`accuracy_text` writes it with as many digits as the interval allows and with its rows.
Two versions scored on the same rows are compared pairwise: :func:`mcnemar_p_value` (exact, two-sided)
on the rows only one of them got right. :class:`HoldoutComparison` is the tag training writes on a new
version: the right answers of several versions on that version's holdout rows, overall and per area.
Pure Python (the UI image has no scipy and no scikit-learn).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The normal quantile of a two-sided 95 % interval.
_Z95 = 1.959963984540054
#: A paired test below this p-value calls a difference between two versions beyond noise.
SIGNIFICANCE = 0.05
BEYOND_NOISE, WITHIN_NOISE = "beyond noise", "within noise"


def wilson_interval(correct: int, rows: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of the accuracy ``correct / rows`` (``(0, 1)`` without rows)."""
    if rows <= 0:
        return 0.0, 1.0
    share = correct / rows
    z2 = _Z95 * _Z95
    denominator = 1 + z2 / rows
    centre = (share + z2 / (2 * rows)) / denominator
    half = _Z95 * math.sqrt(share * (1 - share) / rows + z2 / (4 * rows * rows)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percent_decimals(low: float, high: float) -> int:
    """Decimals of a percentage whose 95 % interval is ``low``..``high``: the last digit shown is the first
    one the interval leaves uncertain (0 for an interval of ±5 points or more, 1 down to ±0.5, else 2)."""
    half_points = (high - low) * 50
    if half_points >= 5:
        return 0
    return 1 if half_points >= 0.5 else 2


def accuracy_text(correct: int, rows: int, *, with_rows: bool = True) -> str:
    """``76% (61–87%) on 38 rows``: the accuracy and its 95 % interval at the precision they allow."""
    if rows <= 0:
        return "no rows"
    low, high = wilson_interval(correct, rows)
    digits = percent_decimals(low, high)
    text = f"{correct / rows:.{digits}%} ({low * 100:.{digits}f}–{high:.{digits}%})"
    return f"{text} on {rows:,} rows" if with_rows else text


def mcnemar_p_value(only_first: int, only_second: int) -> float:
    """Exact two-sided McNemar test: the chance of a split of the discordant rows at least this uneven
    if both versions were as good (each discordant row a fair coin). 1.0 without discordant rows."""
    discordant = only_first + only_second
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_first, only_second) + 1))
    return min(1.0, 2 * tail / (1 << discordant))


def gain_verdict(p_value: float) -> str:
    """:data:`BEYOND_NOISE` below :data:`SIGNIFICANCE`, else :data:`WITHIN_NOISE`."""
    return BEYOND_NOISE if p_value < SIGNIFICANCE else WITHIN_NOISE


@dataclass(frozen=True)
class HoldoutComparison:
    """Right answers of several versions on one holdout: the rows of ``version``'s training.

    ``rows`` and ``area_rows`` count the holdout's rows (all, per wilderness area); ``correct`` and
    ``area_correct`` map a version number to its right answers on them.
    """

    version: str
    rows: int
    correct: dict[str, int]
    area_rows: dict[str, int] = field(default_factory=dict)
    area_correct: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_tag(self) -> str:
        """Compact JSON for a version tag."""
        return json.dumps(
            {
                "version": self.version,
                "rows": self.rows,
                "correct": self.correct,
                "area_rows": self.area_rows,
                "area_correct": self.area_correct,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_tag(cls, text: str) -> HoldoutComparison:
        data = json.loads(text)
        return cls(
            version=str(data["version"]),
            rows=int(data["rows"]),
            correct={str(key): int(value) for key, value in data["correct"].items()},
            area_rows={str(key): int(value) for key, value in data.get("area_rows", {}).items()},
            area_correct={
                str(version): {str(area): int(count) for area, count in areas.items()}
                for version, areas in data.get("area_correct", {}).items()
            },
        )

    def accuracy(self, version: str) -> float | None:
        """``version``'s accuracy on these rows, None when it was not scored on them."""
        if version not in self.correct or self.rows <= 0:
            return None
        return self.correct[version] / self.rows

    def text(self, version: str, *, with_rows: bool = True) -> str | None:
        """:func:`accuracy_text` of ``version`` on these rows, None when it was not scored on them."""
        if version not in self.correct:
            return None
        return accuracy_text(self.correct[version], self.rows, with_rows=with_rows)


def latest_comparison(tag_values: Mapping[str, str | None]) -> HoldoutComparison | None:
    """The comparison of the newest version carrying one; ``tag_values`` maps version numbers to the tag."""
    for version in sorted(tag_values, key=int, reverse=True):
        text = tag_values[version]
        if text:
            try:
                return HoldoutComparison.from_tag(text)
            except (ValueError, KeyError, TypeError):
                continue
    return None
