"""The model the service answers with: ``models:/<name>@<alias>``, followed as the alias moves.

A background thread loads the alias's version with retries, then polls the alias every
``model_poll_interval`` seconds. A new version is downloaded, loaded and checked completely before one
reference is replaced, so every request sees either the old model or the new one, never a half-built one.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from covertype.inference.schemas import LatestBatchQuality, ServedModelInfo
from covertype.model.graph_inputs import Columns
from covertype.model.runtime import GraphPredictor
from covertype.registry.reader import (
    RegistryReader,
    RegistryUnreachable,
    VersionRef,
    registry_reader,
    shown_uri,
)
from covertype.registry.tags import ONNX_ARTIFACT_TAG
from covertype.schema import COVER_TYPES
from covertype.settings import Settings

logger = logging.getLogger(__name__)

_FIRST_RETRY_SECONDS = 1.0

#: Every cover type, in the order of :data:`covertype.schema.COVER_TYPES`: the columns of each answer.
ALL_CLASSES: tuple[int, ...] = tuple(COVER_TYPES)


@dataclass(frozen=True)
class ServedModel:
    """One loaded registered-model version and what the API reports about it."""

    name: str
    version: str
    alias: str
    run_id: str | None
    metrics: dict[str, float]
    loaded_at: datetime
    predictor: GraphPredictor
    #: The column of :data:`ALL_CLASSES` each of the graph's probability columns fills.
    class_columns: tuple[int, ...]

    def predict_proba(self, columns: Columns) -> np.ndarray:
        """One row of probabilities per record (records held column by column), a column per class of
        :data:`ALL_CLASSES`: 0.0 for the classes this version never saw in training."""
        seen = self.predictor.predict_proba_columns(columns)
        every = np.zeros((len(seen), len(ALL_CLASSES)), dtype=seen.dtype)
        every[:, self.class_columns] = seen
        return every

    def info(self, latest_batch: LatestBatchQuality | None = None) -> ServedModelInfo:
        return ServedModelInfo(
            name=self.name,
            version=self.version,
            alias=self.alias,
            run_id=self.run_id,
            metrics=self.metrics,
            loaded_at=self.loaded_at.isoformat(),
            latest_batch=latest_batch,
        )


class ModelUnavailable(RuntimeError):
    """No model is loaded yet; the message says why."""


class ReloadFailed(RuntimeError):
    """A forced reload could not reach the registry or load the version; the served model is unchanged."""


class NoOnnxGraph(RuntimeError):
    """The alias points at a version registered without an ONNX graph (before the ONNX export existed)."""


def load_version(registry: RegistryReader, settings: Settings, version: VersionRef) -> ServedModel:
    """Download one registered version's ONNX graph and open it in ONNX Runtime, ready to predict.

    Nothing is unpickled: a version without the graph raises :class:`NoOnnxGraph` saying what to do.
    """
    uri = f"models:/{version.name}/{version.version}"
    path = version.tags.get(ONNX_ARTIFACT_TAG)
    if not path or not version.run_id:
        raise NoOnnxGraph(
            f"{uri} (the {settings.model_alias!r} alias) was registered without an ONNX graph, and this "
            "service serves only ONNX graphs (it loads no pickle): retrain with `covertype train`, or "
            "promote a version that has one with `covertype promote --version N`"
        )
    predictor = GraphPredictor(registry.run_artifact(version.run_id, path), threads=settings.onnx_threads)
    classes = tuple(int(c) for c in predictor.classes.tolist())
    unknown = [c for c in classes if c not in COVER_TYPES]
    if unknown:
        raise ValueError(f"{uri}: classes {unknown} are not cover types 1..7")
    return ServedModel(
        name=version.name,
        version=version.version,
        alias=settings.model_alias,
        run_id=version.run_id,
        metrics=registry.run_metrics(version.run_id),
        loaded_at=datetime.now(UTC),
        predictor=predictor,
        class_columns=tuple(ALL_CLASSES.index(c) for c in classes),
    )


def _freeze_long_lived_objects() -> None:
    """Keep the imported modules and the model out of the garbage collector's full collections.

    Imported libraries leave many objects tracked (250,000 when this served scikit-learn through MLflow);
    a full collection walks them all (measured: 145 ms) and request garbage triggers one every ~70,000
    allocations, which showed as 20 ms answers to build 1,000 predictions and as p99 spikes. Frozen
    objects are skipped. Unfreezing first lets the collection reclaim the previous model.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelHolder:
    """Holds the served model and keeps it in step with the registry alias."""

    def __init__(self, settings: Settings, *, on_change: Callable[[ServedModel], None] | None = None) -> None:
        self._settings = settings
        self._on_change = on_change
        self._registry: RegistryReader | None = None
        self._current: ServedModel | None = None
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        """Why the latest load or alias check failed; None after a success (and before the first try)."""

    @property
    def current(self) -> ServedModel | None:
        return self._current

    def require(self) -> ServedModel:
        """The served model, or :class:`ModelUnavailable` saying why there is none."""
        served = self._current
        if served is None:
            raise ModelUnavailable(self.unavailable_reason())
        return served

    @property
    def loading(self) -> bool:
        """No model yet and no attempt has failed: the first load is under way."""
        return self._current is None and self.last_error is None

    def unavailable_reason(self) -> str:
        alias = f"models:/{self._settings.model_name}@{self._settings.model_alias}"
        reason = f" ({self.last_error})" if self.last_error else " yet"
        return f"no model loaded from {alias}{reason}"

    def reload(self) -> bool:
        """:meth:`refresh` on demand; :class:`ReloadFailed` with the reason when it cannot."""
        try:
            return self.refresh()
        except Exception as exc:
            raise ReloadFailed(
                f"reload of {self._settings.model_name}@{self._settings.model_alias} failed: "
                f"{self.last_error}"
            ) from exc

    def refresh(self) -> bool:
        """Serve the alias's current version; True when it changed. Concurrent calls load once."""
        with self._refresh_lock:
            try:
                if self._registry is None:
                    self._registry = registry_reader(self._settings)
                loaded = self._load_alias_version(self._registry)
                if loaded is None:
                    self.last_error = None
                    return False
            except NoOnnxGraph as exc:
                self._current = None  # never answer with another version than the alias names
                self.last_error = str(exc)
                raise
            except RegistryUnreachable as exc:
                self.last_error = str(exc)  # names the address and the network error already
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise
            self._current = loaded  # the one reference every request reads: the swap is atomic
            self.last_error = None
            _freeze_long_lived_objects()
            if self._on_change is not None:
                self._on_change(loaded)
            logger.info("serving %s version %s", loaded.name, loaded.version)
            return True

    def _load_alias_version(self, registry: RegistryReader) -> ServedModel | None:
        """The alias's version loaded, or None when it is the one served already.

        The alias is read again once the version is loaded, and a version it no longer names is never
        served: a poll that read v2 just before a roll back to v1 finished loading v2 after the roll back
        and served it until the next poll (``/ready`` said v2 for 24 s after ``covertype promote --version
        1``). It loads the version the alias names now instead.
        """
        name, alias = self._settings.model_name, self._settings.model_alias
        version = registry.version_by_alias(name, alias)
        while self._current is None or self._current.version != version.version:
            loaded = load_version(registry, self._settings, version)
            version = registry.version_by_alias(name, alias)
            if version.version == loaded.version:
                return loaded
            logger.info(
                "%s@%s moved to version %s while version %s loaded",
                name,
                alias,
                version.version,
                loaded.version,
            )
        return None

    def start(self) -> None:
        """Load in the background now, then follow the alias until :meth:`stop`."""
        settings = self._settings
        logger.info(
            "following models:/%s@%s in the registry at %s",
            settings.model_name,
            settings.model_alias,
            shown_uri(settings.tracking_uri),
        )
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow_alias, name="model-holder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _follow_alias(self) -> None:
        interval = self._settings.model_poll_interval
        retry = _FIRST_RETRY_SECONDS
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the registry may be down or the alias unset: retry
                logger.warning(
                    "cannot load the model from the registry at %s (retry in %.0f s): %s",
                    shown_uri(self._settings.tracking_uri),
                    min(retry, interval),
                    self.last_error,
                )
                wait = min(retry, interval)
                retry *= 2
            else:
                wait, retry = interval, _FIRST_RETRY_SECONDS
            self._stop.wait(wait)
