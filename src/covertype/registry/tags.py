"""Names of the tags and aliases the registry carries, for the code that writes them and the code that reads.

Version tags are written by training (registration, promotion) and by the operator's promotion, and read
by the inference API (the ONNX graph) and the web UI (scores, decisions). Imports nothing but ``typing``.
"""

from __future__ import annotations

from typing import Final

# --- aliases ------------------------------------------------------------------------------------------
#: Alias of the newest version that lost against the champion; a version made champion stops being it.
#: (The serving alias itself is ``Settings.model_alias``, ``champion`` by default.)
CHALLENGER_ALIAS: Final = "challenger"

# --- registration: what a version was trained from and how it scored --------------------------------------
CANDIDATE_TAG: Final = "covertype.candidate"
SNAPSHOT_DIGEST_TAG: Final = "covertype.snapshot_digest"
HOLDOUT_ACCURACY_TAG: Final = "holdout_accuracy"
VALIDATION_ACCURACY_TAG: Final = "validation_accuracy"
#: Version tag written last by training's registration (after every other tag and the reference profile):
#: :data:`REGISTRATION_COMPLETE`; the version is created with :data:`REGISTRATION_INCOMPLETE`, so one left
#: half-registered (its registration killed) says so, and is never promoted, by training or by hand.
REGISTRATION_TAG: Final = "covertype.registration"
REGISTRATION_COMPLETE: Final = "complete"
REGISTRATION_INCOMPLETE: Final = "incomplete"

# --- why the training ran (writer: training; on its parent run and on the version it registers) -----------
#: The signal that decided (``covertype.monitoring.retrain``: new_rows, accuracy_drop, drift, forced, ...).
TRAINING_SIGNAL_TAG: Final = "covertype.training_signal"
#: The sentence saying why, with the signal's numbers.
TRAINING_REASON_TAG: Final = "covertype.training_reason"

# --- the ONNX graph (writer: training; reader: serving and the size gate) --------------------------------
#: Path, inside the version's run, of the ONNX graph of the whole pipeline.
ONNX_ARTIFACT_TAG: Final = "covertype.onnx_artifact"
#: Where training puts the graph inside the candidate's run.
ONNX_ARTIFACT_PATH: Final = "onnx/model.onnx"
#: Size of the graph in bytes (the size gate reads it).
ONNX_SIZE_TAG: Final = "covertype.onnx_size_bytes"
#: Share of holdout rows where the graph and the scikit-learn pipeline predict the same class.
ONNX_AGREEMENT_TAG: Final = "covertype.onnx_label_agreement"
#: Largest absolute difference of any class probability between the graph and the pipeline on the holdout.
ONNX_MAX_DIFF_TAG: Final = "covertype.onnx_max_probability_diff"
#: Latency of the graph in ONNX Runtime with the inference API's threads, milliseconds: single-row median
#: and 99th percentile, and a 1,000-row batch (the lowest of several rounds' medians; the latency gate
#: reads it).
ONNX_SINGLE_P50_TAG: Final = "covertype.onnx_single_p50_ms"
ONNX_SINGLE_P99_TAG: Final = "covertype.onnx_single_p99_ms"
ONNX_BATCH_MS_TAG: Final = "covertype.onnx_batch_ms"
#: On the candidate's run: ``true`` when the graph passed the faithfulness check, else ``false`` (and the
#: reason tag says why).
ONNX_FAITHFUL_TAG: Final = "covertype.onnx_faithful"
ONNX_REASON_TAG: Final = "covertype.onnx_reason"

#: Path, inside the version's run, of the same candidate fitted without the holdout rows, when the
#: registered model was refit on every row (``COVERTYPE_FINAL_FIT_MAX_ROWS``): promotion re-scores this
#: one on the holdout, which the registered model has seen.
EVALUATION_MODEL_TAG: Final = "covertype.evaluation_model"
EVALUATION_MODEL_PATH: Final = "evaluation_model"

# --- promotion evidence ---------------------------------------------------------------------------------
#: ``passed`` or why the version's graph is too large to serve (``COVERTYPE_MAX_MODEL_MB``).
SIZE_GATE_TAG: Final = "covertype.size_gate"
#: ``passed`` or why the version's graph is too slow to serve (``COVERTYPE_MAX_BATCH_MS``).
LATENCY_GATE_TAG: Final = "covertype.latency_gate"
#: One of :data:`TRAINING_DECISIONS` (written by training) or of :data:`MANUAL_DECISIONS` (by an operator).
DECISION_TAG: Final = "covertype.promotion_decision"
#: The decision a training run wrote, kept when a hand-made promotion overwrites :data:`DECISION_TAG`.
TRAINING_DECISION_TAG: Final = "covertype.training_decision"
REASON_TAG: Final = "covertype.promotion_reason"
CHALLENGER_ACCURACY_TAG: Final = "covertype.challenger_holdout_accuracy"
CHAMPION_ACCURACY_TAG: Final = "covertype.champion_holdout_accuracy"
#: The champion's version when the decision was made (empty when there was none).
CHAMPION_VERSION_TAG: Final = "covertype.champion_version"
MARGIN_TAG: Final = "covertype.promotion_margin"
#: Whether the new version's gain over the champion is beyond the noise of the shared holdout rows
#: (``beyond noise`` / ``within noise``, :mod:`covertype.registry.evidence`), or why there is no verdict.
GAIN_VERDICT_TAG: Final = "covertype.gain_verdict"
#: The exact McNemar p-value of that paired comparison (empty without a champion to compare).
GAIN_P_VALUE_TAG: Final = "covertype.gain_p_value"
#: The rows behind it: ``<only the new version right> / <only the champion right> of <holdout rows>``.
GAIN_ROWS_TAG: Final = "covertype.gain_rows"
#: JSON of :class:`covertype.registry.evidence.HoldoutComparison`: the right answers of the newest
#: versions (and the champion) on this version's holdout rows, so that pages compare them on the same rows.
HOLDOUT_COMPARISON_TAG: Final = "covertype.holdout_comparison"
PROMOTED_AT_TAG: Final = "covertype.promoted_at"

PROMOTED: Final = "promoted"
REJECTED: Final = "rejected"
#: The new version won, but the champion it was compared with was replaced (a roll back) meanwhile.
SUPERSEDED: Final = "superseded"
TRAINING_DECISIONS: Final = (PROMOTED, REJECTED, SUPERSEDED)
ROLLBACK: Final = "rollback"
MANUAL: Final = "manual"
MANUAL_DECISIONS: Final = (ROLLBACK, MANUAL)

# --- on the registered model: the data the last completed training saw -----------------------------------
LAST_TRAINED_ROWS_TAG: Final = "covertype.last_trained_rows"
LAST_TRAINED_DIGEST_TAG: Final = "covertype.last_trained_digest"

# Monitoring (covertype.monitoring): the reference profile of the version's training rows, and the run that
# holds its per-batch figures.
#: Version tag: the run artifact path of the version's reference profile (JSON).
PROFILE_TAG: Final = "covertype.reference_profile"
#: Where the reference profile is logged in the version's run.
PROFILE_ARTIFACT: Final = "monitoring/reference_profile.json"
#: Version tag: the id of the version's monitoring run (metrics per batch, the batch number as the step).
MONITORING_RUN_TAG: Final = "covertype.monitoring_run_id"
