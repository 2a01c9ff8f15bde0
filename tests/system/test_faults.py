"""Faults the system must survive, each provoked for real: nothing lost or duplicated, no failed request.

* MariaDB "restarted" in the middle of an ingestion run. The MariaDB server of this machine is shared with
  other tests, so the restart is simulated at the network level: ingestion reaches the server through a
  TCP proxy that the test cuts (every connection closed, new ones refused for a few seconds) while the
  batch's transaction is open, then restores. To the client this is exactly a server restart (error 2013
  mid-statement, then 2003 until it is back), so the real reconnect and retry path runs.
* The data API killed (SIGKILL) and restarted between polls: its state is in SQLite.
* The MLflow server down when the inference API starts: 503, then it recovers by itself.
* The champion alias moved under load.
* A training run killed (SIGKILL) halfway.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest
from mlflow import MlflowClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from covertype.dataset import load_dataset
from covertype.ingestion import PollStatus, ingest_once
from covertype.ingestion.pipeline import STORE_ATTEMPTS
from covertype.processes import Service, unused_port
from covertype.registry.client import mlflow_client
from covertype.settings import Settings
from covertype.store.batches import DEFAULT_CHUNK_ROWS
from covertype.store.tables import forest_cover_data, ingestion_runs, metadata
from support.data_api import data_api_server, data_api_settings
from support.inference import GOOD, registry_settings, train_version
from support.paths import REPO_ROOT
from support.store import batch_rows, count_rows, data_api_answer, fixed_client
from support.training import fill_store

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from load_test import drive, sample_records, serving, workload  # noqa: E402

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def frame(sample_csv: Path) -> pd.DataFrame:
    return load_dataset(sample_csv)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until true; the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.2)
    return time.monotonic() - started


# -- (a) database restarted during an ingestion run ------------------------------------------------------


class CuttableProxy:
    """A TCP forwarder to ``127.0.0.1:target`` that can be cut like a restarting server.

    :meth:`cut_on` arms a one-shot trigger: when the ``nth`` client packet containing ``marker`` arrives,
    that packet is dropped, every connection is aborted and the port refuses connections for ``outage``
    seconds, then listens again.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = unused_port()
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._marker: bytes | None = None
        self._seen = 0
        self._nth = 1
        self._outage = 0.0

    def __enter__(self) -> CuttableProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut_on(self, marker: bytes, *, nth: int, outage: float) -> None:
        self._marker, self._nth, self._outage, self._seen = marker, nth, outage, 0

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for transport in list(self._transports):
            transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self._transports |= {writer.transport, upstream_writer.transport}
        await asyncio.gather(
            self._pipe(reader, upstream_writer, watch=True),
            self._pipe(upstream_reader, writer, watch=False),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool) -> None:
        try:
            while data := await reader.read(1 << 16):
                if watch and self._marker is not None and self._marker in data:
                    self._seen += 1
                    if self._seen == self._nth:
                        self._marker = None
                        await self._cut()
                        return
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()
            self._transports.discard(writer.transport)

    async def _cut(self) -> None:
        self.cuts += 1
        await self._close()
        await asyncio.sleep(self._outage)
        await self._listen()


@pytest.mark.mariadb
def test_a_database_restart_mid_ingestion_is_retried_and_every_row_stored_once(
    tmp_path: Path, mariadb_url: str, frame: pd.DataFrame
) -> None:
    engine = create_engine(mariadb_url)
    metadata.create_all(engine)
    engine.dispose()
    rows = len(frame)  # 15,000 rows: three INSERT statements of one transaction
    assert rows > 2 * DEFAULT_CHUNK_ROWS
    client = fixed_client(200, data_api_answer(batch_rows(frame)))

    with CuttableProxy(target=make_url(mariadb_url).port or 3306) as proxy:
        through_proxy = make_url(mariadb_url).set(port=proxy.port).render_as_string(hide_password=False)
        settings = Settings(data_dir=tmp_path, database_url=through_proxy)
        # the second INSERT of the batch is cut: the first one is executed but not committed
        proxy.cut_on(b"INSERT IGNORE INTO", nth=2, outage=2.5)
        started = time.monotonic()
        result = ingest_once(settings, run_id="restarted", client=client)
        elapsed = time.monotonic() - started

    assert proxy.cuts == 1
    assert elapsed > 2.5  # it waited for the "server" to come back
    assert result.status is PollStatus.SUCCESS
    assert result.rows_inserted + result.duplicates == rows
    stored = count_rows(mariadb_url, "forest_cover_data")
    check = create_engine(mariadb_url)
    try:
        with check.connect() as connection:
            distinct = connection.execute(
                select(func.count(func.distinct(forest_cover_data.c.row_hash)))
            ).scalar()
            runs = connection.execute(
                select(
                    ingestion_runs.c.run_id,
                    ingestion_runs.c.batch_number,
                    ingestion_runs.c.status,
                    ingestion_runs.c.error,
                ).order_by(ingestion_runs.c.id)
            ).all()
    finally:
        check.dispose()
    unique_rows = len(frame.drop_duplicates())
    assert stored == distinct == result.rows_inserted == unique_rows, "a row was lost or stored twice"
    # each attempt the outage failed leaves a failed row once the store answers again, after the success row
    # (the cut one, 2013, then those refused while it is "restarting", 2003)
    success, *failed = runs
    assert (success.run_id, success.batch_number, success.status) == ("restarted", 1, "success")
    assert failed and {(run.run_id, run.batch_number, run.status) for run in failed} == {
        ("restarted", 1, "failed")
    }
    assert [run.error.split(":")[0] for run in failed] == [
        f"attempt {attempt} of {STORE_ATTEMPTS} storing batch 1" for attempt in range(1, len(failed) + 1)
    ]
    assert failed[0].error.startswith(
        f"attempt 1 of {STORE_ATTEMPTS} storing batch 1: OperationalError: (2013,"
    )
    assert all(run.error.endswith("; retried") for run in failed)


# -- (b) data API killed between polls --------------------------------------------------------------------


def sigkill_server(port: int) -> None:
    """SIGKILL the process group of the ``covertype data-api`` child listening on ``port``."""
    for child in psutil.Process().children(recursive=True):
        if str(port) in child.cmdline():
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
            return
    pytest.fail(f"no server process on port {port}")


def test_a_killed_and_restarted_data_api_neither_skips_nor_repeats_a_batch(
    tmp_path: Path, sample_csv: Path
) -> None:
    api = data_api_settings(
        tmp_path, sample_csv, groups=2, batches=4, batch_interval=6.0, sample_fraction=0.05
    )
    store = f"sqlite:///{tmp_path / 'store.db'}"
    polls: list[tuple[int | None, int]] = []  # (batch number, rows inserted) of each poll
    # Four windows of 6 s: however fast the server restarts, the schedule ends well before four times that.
    deadline = time.monotonic() + 4 * api.batch_interval * 4
    while not polls or polls[-1][0] is not None:
        assert time.monotonic() < deadline, f"the schedule never ended: {polls}"
        port = unused_port()
        with data_api_server(api, port=port) as url:
            settings = api.model_copy(update={"data_api_url": url, "database_url": store, "group": 1})
            result = ingest_once(settings)
            polls.append((result.batch_number, result.rows_inserted))
            sigkill_server(port)

    batches = [batch for batch, _ in polls[:-1]]
    assert sorted(set(batches)) == [1, 2, 3, 4], f"a batch was skipped: {polls}"
    assert batches == sorted(batches), f"a batch came back after its successor: {polls}"
    assert len(batches) > 4, f"no poll fell in the same window after a restart: {polls}"
    per_batch = int(len(load_dataset(sample_csv)) / 4 * 0.05)
    for batch in range(1, 5):
        inserted = [rows for number, rows in polls if number == batch]
        assert inserted[0] == per_batch and all(rows == 0 for rows in inserted[1:]), (
            f"batch {batch} changed across restarts: {polls}"
        )
    for batch in range(1, 5):
        assert count_rows(store, "forest_cover_data", batch_number=batch) == per_batch


# -- (c) MLflow down when the inference API starts ------------------------------------------------------


@contextmanager
def inference_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """``covertype inference-api`` on a free port, answering /health (not necessarily ready)."""
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    service = Service(
        "inference-api",
        [str(BIN / "covertype"), "inference-api", "--port", str(port)],
        f"{url}/health",
        port,
        env={**env, "PATH": os.environ["PATH"]},
        log_path=log,
    )
    with service:
        yield url


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, frame: pd.DataFrame) -> Settings:
    """A SQLite registry: version 1 (champion) and version 2 (challenger) made by the training pipeline."""
    settings = registry_settings(tmp_path_factory.mktemp("registry"))
    train = frame.iloc[:2_000]
    train_version(settings, train, candidates="logreg")
    train_version(settings.model_copy(update={"promotion_margin": 1.0}), train, candidates="hgb")
    return settings


def test_the_inference_api_started_without_mlflow_serves_503_then_recovers_by_itself(
    tmp_path: Path, registry: Settings
) -> None:
    mlflow_port = unused_port()
    env = {
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
        "COVERTYPE_DATA_DIR": str(tmp_path),
        "COVERTYPE_MODEL_POLL_INTERVAL": "2",
        # MLflow's client retries a refused connection for minutes by default; the holder retries itself
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    }
    with inference_server(env, tmp_path / "inference.log") as url:
        time.sleep(3)  # a few failed attempts at the registry
        ready = httpx.get(f"{url}/ready")
        predict = httpx.post(f"{url}/predict", json=GOOD)
        assert (ready.status_code, predict.status_code) == (503, 503)
        assert "models:/covertype@champion" in predict.json()["detail"]

        mlflow = Service(
            "mlflow",
            [str(BIN / "mlflow"), "server", "--backend-store-uri", registry.tracking_uri,
             "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1"],
            f"http://127.0.0.1:{mlflow_port}/health",
            mlflow_port,
            env={"PATH": f"{BIN}:{os.environ['PATH']}"},
            log_path=tmp_path / "mlflow.log",
        )  # fmt: skip
        with mlflow:
            recovered = wait_for(lambda: httpx.get(f"{url}/ready").status_code == 200, 60, "ready again")
            answer = httpx.post(f"{url}/predict", json=GOOD)
    print(f"ready {recovered:.1f} s after MLflow answered")
    assert answer.status_code == 200
    assert answer.json()["model_version"] == "1"


# -- (d) the champion alias moved under load --------------------------------------------------------------


def test_moving_the_champion_under_load_fails_no_request(tmp_path: Path, registry: Settings) -> None:
    calls = [call for call in workload(sample_records()) if call.api == "inference"]
    env = {
        "MLFLOW_TRACKING_URI": registry.tracking_uri,
        "COVERTYPE_DATA_DIR": str(tmp_path),
        "COVERTYPE_MODEL_POLL_INTERVAL": "0.5",
        "PATH": os.environ["PATH"],
    }
    aliases = mlflow_client(registry)
    aliases.set_registered_model_alias("covertype", "champion", "1")
    with serving("inference-api", env, "/ready", tmp_path) as server:
        url = f"http://127.0.0.1:{server.port}"
        served = lambda: httpx.get(f"{url}/model").json()["version"]  # noqa: E731
        with ThreadPoolExecutor(1) as pool:
            load = pool.submit(drive, {"inference": url}, calls, clients=16, duration=15.0, pids={})
            time.sleep(2)
            for version in ("2", "1", "2"):
                aliases.set_registered_model_alias("covertype", "champion", version)
                wait_for(lambda v=version: served() == v, 10, f"serving version {version}")
            tally, _ = load.result()
    aliases.set_registered_model_alias("covertype", "champion", "1")
    requests = sum(len(latencies) for latencies in tally.latencies.values())
    print(f"{requests} requests while the champion moved 3 times")
    assert requests > 100
    assert not tally.failures, tally.samples


# -- (e) a training run killed halfway ------------------------------------------------------------------


def test_a_training_run_killed_halfway_registers_nothing_and_keeps_the_champion(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    registry = registry_settings(tmp_path)
    train = frame.iloc[:2_000]
    train_version(registry, train, candidates="logreg")
    store = f"sqlite:///{tmp_path / 'store.db'}"
    fill_store(store, frame.iloc[:4_000])
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": registry.tracking_uri,
        "COVERTYPE_DATABASE_URL": store,
        "COVERTYPE_DATA_DIR": str(tmp_path),
    }
    mlflow = mlflow_client(registry)
    experiment = mlflow.get_experiment_by_name("covertype")
    assert experiment is not None
    with (tmp_path / "train.log").open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "covertype"), "train", "--candidates", "random_forest,extra_trees",
             "--time-budget", "30", "--force"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        # halfway: a candidate run has started under the training's parent run
        wait_for(
            lambda: process.poll() is None and len(running_runs(mlflow, experiment.experiment_id)) >= 2,
            120,
            "a candidate run under way",
        )
        time.sleep(2)
        assert process.poll() is None, (tmp_path / "train.log").read_text()[-2000:]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    versions = mlflow.search_model_versions("name='covertype'")
    assert [(str(v.version), v.status) for v in versions] == [("1", "READY")], "a version was half registered"
    assert str(mlflow.get_model_version_by_alias("covertype", "champion").version) == "1"
    assert champion_loads(registry)


def running_runs(mlflow: MlflowClient, experiment_id: str) -> list[str]:
    runs = mlflow.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'")
    return [run.info.run_id for run in runs]


def champion_loads(registry: Settings) -> bool:
    """The champion still loads the way the inference API loads it."""
    import mlflow.pyfunc

    mlflow.set_tracking_uri(registry.tracking_uri)
    mlflow.set_registry_uri(registry.tracking_uri)
    model = mlflow.pyfunc.load_model("models:/covertype@champion")
    return model.metadata is not None
