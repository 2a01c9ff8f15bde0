"""Shift benchmark: the shared sample replayed as batches through test-then-train, a shift injected from the
middle on, against the same replay without shift, in one run.

Every scenario runs the real path in its own temporary directory (an embedded SQLite store, a local
MLflow store): each batch is validated and stored as ``covertype ingest`` stores a poll, the champion
scores it (``evaluate_batch``: accuracy, macro-F1, PSI drift per feature), and ``run_training`` (what
``covertype train`` runs) decides from the three signals (new rows, accuracy drop, drift) whether to
train, then trains, registers and promotes. No training follows the last batch: no batch
would be scored by its result.

Scenarios (the batches from ``batches // 2 + 1`` on are shifted; labels are kept as they are):

* ``baseline``: no shift,
* ``covariate``: ``--shift-feature`` (Elevation) moved by ``--shift-delta`` (+300 m),
* ``prior``: class ``--prior-class``'s share of each shifted batch set to ``--prior-share`` by dropping
  rows (of that class or of the others), so those batches are smaller.

A batch is *flagged* when it drifted (a feature's difference from the champion's training rows beyond
chance, its PSI above ``COVERTYPE_DRIFT_THRESHOLD``: its drift score above it) or the champion's accuracy
on it is more than ``COVERTYPE_ACCURACY_DROP`` below the champion's holdout accuracy (the two batch signals
of the retraining decision). The reference accuracy is the holdout accuracy of the champion serving when
the shift begins. If a shifted batch fell more than ``--recovery-tolerance`` below it, the replay has
*recovered* on the first shifted batch that a version trained after the shift began scores within the
tolerance again. Every scenario scores the same rows in the same order, so the accuracies per batch stand
side by side with the baseline's (``accuracy_side_by_side``).

    uv run --frozen python benchmarks/bench_shift.py [--data covtype-sample-15k.csv] [--output shift.json]

The dataset is ``--data``, else ``COVERTYPE_DATA_SOURCE``, else the shared sample; it is read, never
copied. Prints one JSON document on stdout (and to ``--output``), a short summary on stderr, and keeps the
figures in ``benchmarks/results/shift.json``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from statistics import mean
from typing import Any

import numpy as np
import orjson
import pandas as pd

from covertype.dataset import load_dataset
from covertype.ingestion.validation import validate_batch
from covertype.monitoring.evaluation import evaluate_batch
from covertype.registry.core import Registry
from covertype.schema import COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.batches import store_batch, utc_now
from covertype.store.engine import store_engine
from covertype.store.quality import BatchQuality, DriftStatus
from covertype.training.pipeline import NoCandidateTrained, check_new_data, run_training

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO.parent / "shared" / "data" / "covtype-sample-15k.csv"
GROUP = 1

#: A scenario's shift: (rows of one shifted batch, random generator) -> the rows delivered instead.
Shift = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


@dataclass(frozen=True)
class Scenario:
    """A named replay: its batches from the middle on go through ``shift`` (none for the baseline)."""

    name: str
    description: str
    shift: Shift | None = None


@dataclass(frozen=True)
class ReplayConfig:
    """How one replay runs: its batches, the training it calls and the monitoring settings it uses."""

    batches: int = 10
    candidates: str = "extra_trees,lightgbm"
    time_budget: float = 5.0
    min_new_rows: int = 3_000
    drift_threshold: float = 0.2
    accuracy_drop: float = 0.03
    recovery_tolerance: float = 0.03
    seed: int = 42

    @property
    def shift_start(self) -> int:
        """The first shifted batch (1-based): the middle of the replay."""
        return self.batches // 2 + 1


def covariate_shift(feature: str, delta: int) -> Shift:
    """Every row's ``feature`` moved by ``delta`` (the labels unchanged)."""

    def shift(batch: pd.DataFrame, _rng: np.random.Generator) -> pd.DataFrame:
        return batch.assign(**{feature: batch[feature] + delta})

    return shift


def prior_shift(label: int, share: float) -> Shift:
    """Rows dropped so that class ``label`` makes up ``share`` of the batch (the kept rows unchanged)."""

    def shift(batch: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        mine, others = batch[batch[TARGET_COLUMN] == label], batch[batch[TARGET_COLUMN] != label]
        wanted_mine = round(share * len(others) / (1 - share))
        if wanted_mine <= len(mine):
            mine = mine.sample(wanted_mine, random_state=rng)
        else:
            others = others.sample(round(len(mine) * (1 - share) / share), random_state=rng)
        return pd.concat([mine, others]).sample(frac=1.0, random_state=rng)

    return shift


def replay_batches(frame: pd.DataFrame, scenario: Scenario, config: ReplayConfig) -> list[pd.DataFrame]:
    """The rows shuffled (the same order in every scenario), cut into batches, shifted from the middle on."""
    shuffled = frame.sample(frac=1.0, random_state=config.seed).reset_index(drop=True)
    bounds = np.linspace(0, len(shuffled), config.batches + 1).astype(int)
    batches = [shuffled.iloc[start:end].reset_index(drop=True) for start, end in itertools.pairwise(bounds)]
    if scenario.shift is None:
        return batches
    rng = np.random.default_rng(config.seed)
    return [
        scenario.shift(batch, rng) if number >= config.shift_start else batch
        for number, batch in enumerate(batches, 1)
    ]


def replay_settings(work: Path, config: ReplayConfig) -> Settings:
    """Settings on an embedded store and a local MLflow store under ``work`` (nothing from elsewhere)."""
    return Settings(
        data_dir=work,
        database_url=f"sqlite:///{work / 'covertype.db'}",
        mlflow_tracking_uri=f"sqlite:///{work / 'mlflow.db'}",
        snapshot_uri=str(work / "snapshots"),
        group=GROUP,
        candidates=config.candidates,
        train_time_budget=config.time_budget,
        min_new_rows=config.min_new_rows,
        drift_threshold=config.drift_threshold,
        accuracy_drop=config.accuracy_drop,
        seed=config.seed,
    )


def ingest(settings: Settings, batch: pd.DataFrame, number: int) -> int:
    """Validate and store ``batch`` as a poll of the data API would be stored; returns the rows inserted."""
    validated = validate_batch(list(COLUMNS), batch.astype(object).to_numpy().tolist())
    engine = store_engine(settings)
    try:
        stored = store_batch(
            engine,
            validated.rows,
            rejected=validated.rejected,
            run_id=f"bench-shift-{number}",
            group_number=GROUP,
            batch_number=number,
            received=validated.received,
            started_at=utc_now(),
        )
        return stored.inserted
    finally:
        engine.dispose()


@dataclass
class Champion:
    """The serving version's holdout accuracy, and the versions promoted after training on shifted rows."""

    holdout_accuracy: float | None = None
    trained_after_shift: set[str] = field(default_factory=set)


def batch_flags(quality: BatchQuality, champion_holdout: float | None, config: ReplayConfig) -> list[str]:
    """The batch signals that fire on ``quality``: ``drift`` and/or ``accuracy_drop``."""
    flags = []
    if quality.drift_status == DriftStatus.DRIFTED:
        flags.append("drift")
    if champion_holdout is not None and champion_holdout - quality.accuracy > config.accuracy_drop:
        flags.append("accuracy_drop")
    return flags


def replay(frame: pd.DataFrame, scenario: Scenario, config: ReplayConfig, work: Path) -> dict[str, Any]:
    """Replay ``frame`` under ``scenario`` in ``work``: one record per batch and the scenario's summary."""
    settings = replay_settings(work, config)
    champion = Champion()
    records = []
    started = time.monotonic()
    batches = replay_batches(frame, scenario, config)
    for number, batch in enumerate(batches, 1):
        shifted = scenario.shift is not None and number >= config.shift_start
        rows = ingest(settings, batch, number)
        record: dict[str, Any] = {"batch": number, "shifted": shifted, "rows": rows}
        quality = evaluate_batch(settings, GROUP, number).quality
        if quality is not None:
            flags = batch_flags(quality, champion.holdout_accuracy, config)
            record |= {
                "model_version": quality.model_version,
                "champion_holdout_accuracy": champion.holdout_accuracy,
                "accuracy": round(quality.accuracy, 4),
                "macro_f1": round(quality.macro_f1, 4),
                "drift_score": None if quality.drift_score is None else round(quality.drift_score, 3),
                "drifted_features": quality.drifted_features,
                "most_drifted_feature": max(
                    quality.feature_psi, key=quality.feature_psi.__getitem__, default=None
                ),
                "flags": flags,
                "flagged": bool(flags),
            }
        if number < len(batches):
            record["retraining"] = _retrain(settings, config, champion, shifted)
        records.append(record)
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "seconds": round(time.monotonic() - started, 1),
        "summary": summarize(
            records, config, shifted=scenario.shift is not None, retrained=champion.trained_after_shift
        ),
        "batches": records,
    }


def _retrain(
    settings: Settings,
    config: ReplayConfig,
    champion: Champion,
    shifted: bool,
) -> dict[str, Any]:
    """``covertype train``: decide from the signals, train when they say so; ``champion`` follows a promotion.

    The decision is read first (``check_new_data``, which ``run_training`` takes again) so that a training
    that registers nothing still says why it ran.
    """
    decision = check_new_data(settings, Registry.from_settings(settings), candidates=config.candidates)
    outcome: dict[str, Any] = {
        "trained": decision.train,
        "signal": decision.signal,
        "reason": decision.reason,
    }
    if not decision.train:
        return outcome
    began = time.monotonic()
    try:
        summary = run_training(
            settings,
            Registry.from_settings(settings),
            candidates=config.candidates,
            time_budget=config.time_budget,
        )
    except NoCandidateTrained as exc:  # as `covertype train` fails: the champion stays, the rows stay new
        return outcome | {"failed": str(exc), "seconds": round(time.monotonic() - began, 1)}
    registered, promotion = summary["registered"], summary["promotion"]
    if promotion["promoted"]:
        champion.holdout_accuracy = registered["holdout_accuracy"]
        if shifted:
            champion.trained_after_shift.add(registered["version"])
    return outcome | {
        "version": registered["version"],
        "candidate": registered["candidate"],
        "holdout_accuracy": round(registered["holdout_accuracy"], 4),
        "promoted": promotion["promoted"],
        "promotion_reason": promotion["reason"],
        "seconds": round(time.monotonic() - began, 1),
    }


def summarize(
    records: list[dict[str, Any]], config: ReplayConfig, *, shifted: bool, retrained: set[str]
) -> dict[str, Any]:
    """Detection (shifted batches flagged, clean ones not), retraining and recovery of one replay.

    The reference accuracy is the holdout accuracy of the champion serving when the middle batch arrives
    (what the accuracy signal compares with); ``retrained``: the versions promoted by a training that saw
    shifted rows. Recovery counts only if a shifted batch fell below the reference minus the tolerance.
    """
    evaluated = [record for record in records if "accuracy" in record]
    middle = next(record for record in evaluated if record["batch"] >= config.shift_start)
    reference = middle["champion_holdout_accuracy"]
    floor = reference - config.recovery_tolerance
    after = [record for record in evaluated if record["batch"] >= config.shift_start]
    shifted_records = [record for record in evaluated if record["shifted"]]
    clean = [record for record in evaluated if not record["shifted"]]
    dropped = any(record["accuracy"] < floor for record in shifted_records)
    recovered = next(
        (
            record["batch"]
            for record in shifted_records
            if dropped and record["model_version"] in retrained and record["accuracy"] >= floor
        ),
        None,
    )
    return {
        "reference_accuracy": round(reference, 4),
        "accuracy_from_middle_on": round(mean(record["accuracy"] for record in after), 4),
        "first_shifted_batch": config.shift_start if shifted else None,
        "shifted_batches_flagged": f"{sum(r['flagged'] for r in shifted_records)}/{len(shifted_records)}",
        "clean_batches_flagged": f"{sum(r['flagged'] for r in clean)}/{len(clean)}",
        "clean_batches_drift_flagged": f"{sum('drift' in r['flags'] for r in clean)}/{len(clean)}",
        "retrained_after_batches": [
            {key: r["retraining"].get(key) for key in ("signal", "promoted", "version", "failed")}
            | {"batch": r["batch"]}
            for r in records
            if r.get("retraining", {}).get("trained")
        ],
        "accuracy_dropped": dropped,
        "recovered_at_batch": recovered,
        "batches_to_recover": None if recovered is None else recovered - config.shift_start,
    }


def compare_to_baseline(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accuracy per batch of every scenario side by side (the baseline scored the same batches unshifted)."""
    table: dict[int, dict[str, Any]] = {}
    for run in runs:
        for record in run["batches"]:
            table.setdefault(record["batch"], {"batch": record["batch"]})[run["scenario"]] = record.get(
                "accuracy"
            )
    return list(table.values())


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    return [
        Scenario("baseline", "no shift"),
        Scenario(
            "covariate",
            f"{args.shift_feature} {args.shift_delta:+d} from the middle on, labels kept",
            covariate_shift(args.shift_feature, args.shift_delta),
        ),
        Scenario(
            "prior",
            f"class {args.prior_class} at {args.prior_share:.0%} of each batch from the middle on, "
            "rows dropped",
            prior_shift(args.prior_class, args.prior_share),
        ),
    ]


def human_summary(report: dict[str, Any]) -> str:
    """A few lines per scenario: accuracy, drift and flags per batch, when it retrained, recovery."""
    lines = []
    for run in report["scenarios"]:
        summary = run["summary"]
        lines.append(f"== {run['scenario']} ({run['description']}), {run['seconds']} s")
        for record in run["batches"]:
            evaluated = (
                f"v{record['model_version']} acc {record['accuracy']:.3f} drift {record['drift_score']:.2f} "
                f"{'FLAGGED ' + '+'.join(record['flags']) if record['flagged'] else 'ok'}"
                if "accuracy" in record
                else "no champion yet"
            )
            retraining = record.get("retraining", {})
            failed = " FAILED (no servable candidate)" if "failed" in retraining else ""
            trained = f" -> trained ({retraining['signal']}){failed}" if retraining.get("trained") else ""
            mark = "*" if record["shifted"] else " "
            lines.append(f"  {mark}batch {record['batch']:>2} {record['rows']:>5} rows  {evaluated}{trained}")
        lines.append(
            f"  shifted flagged {summary['shifted_batches_flagged']}, clean flagged "
            f"{summary['clean_batches_flagged']}; reference accuracy {summary['reference_accuracy']}, "
            f"dropped below it: {summary['accuracy_dropped']}, recovered at batch "
            f"{summary['recovered_at_batch']} (batches to recover: {summary['batches_to_recover']})"
        )
    lines.append(
        "accuracy per batch: "
        + ", ".join(
            f"{row['batch']}: "
            + "/".join("-" if v is None else f"{v:.3f}" for k, v in row.items() if k != "batch")
            for row in report["accuracy_side_by_side"]
        )
        + f" ({'/'.join(run['scenario'] for run in report['scenarios'])})"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    defaults = ReplayConfig()
    parser.add_argument("--data", default=os.environ.get("COVERTYPE_DATA_SOURCE") or str(SAMPLE))
    parser.add_argument("--output", type=Path, help="also write the JSON document here")
    parser.add_argument("--rows", type=int, help="replay only the first N rows of the dataset")
    parser.add_argument("--batches", type=int, default=defaults.batches)
    parser.add_argument("--candidates", default=defaults.candidates)
    parser.add_argument(
        "--time-budget",
        type=float,
        default=defaults.time_budget,
        help="search s per training, shared by the candidates",
    )
    parser.add_argument("--min-new-rows", type=int, default=defaults.min_new_rows)
    parser.add_argument("--recovery-tolerance", type=float, default=defaults.recovery_tolerance)
    parser.add_argument("--shift-feature", default="Elevation")
    parser.add_argument("--shift-delta", type=int, default=300)
    parser.add_argument("--prior-class", type=int, default=2)
    parser.add_argument("--prior-share", type=float, default=0.1)
    parser.add_argument("--scenarios", default="baseline,covariate,prior", help="comma-separated subset")
    args = parser.parse_args()

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # MLflow sets its own INFO handler
    warnings.filterwarnings("ignore")
    env = Settings()
    config = replace(
        defaults,
        batches=args.batches,
        candidates=args.candidates,
        time_budget=args.time_budget,
        min_new_rows=args.min_new_rows,
        drift_threshold=env.drift_threshold,
        accuracy_drop=env.accuracy_drop,
        recovery_tolerance=args.recovery_tolerance,
        seed=env.seed,
    )
    frame = load_dataset(args.data)
    if args.rows:
        frame = frame.head(args.rows)
    wanted = args.scenarios.split(",")
    load_before, began = list(os.getloadavg()), time.monotonic()
    runs = []
    for scenario in (s for s in scenarios(args) if s.name in wanted):
        with tempfile.TemporaryDirectory(prefix=f"bench-shift-{scenario.name}-") as work:
            runs.append(replay(frame, scenario, config, Path(work)))
    report = {
        "benchmark": "test-then-train replay with a shift from the middle on",
        "dataset": args.data,
        "rows": len(frame),
        "config": {**config.__dict__, "first_shifted_batch": config.shift_start},
        "accuracy_side_by_side": compare_to_baseline(runs),
        "scenarios": runs,
        "seconds": round(time.monotonic() - began, 1),
    }
    document = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"
    sys.stdout.write(document)
    if args.output:
        args.output.write_text(document)
    sys.stderr.write(human_summary(report) + "\n")
    write_results("shift", report, load_before=load_before)


if __name__ == "__main__":
    main()
