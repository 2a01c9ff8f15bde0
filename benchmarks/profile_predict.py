"""Where ``/predict`` spends its time besides the graph, in process, stage by stage: 1 record and 1,000.

    uv run --frozen python benchmarks/profile_predict.py [--workdir .covertype/profile] [--repeat 400]

The champion is trained once into ``--workdir`` as ``bench_inference.py`` trains it (the shared sample,
``run_training``; ``--candidates``, default ``extra_trees``) and reused by later runs. The app of
``create_app`` is called as an ASGI application in this process (no socket, no HTTP client), on the same
body every time:

- ``wall_ms``, ``cpu_ms``: median wall time and CPU time of the whole process per request (the prediction
  log's writer thread included); each request is followed by a run of the graph alone on the same inputs
  (``graph_alone_ms``), and ``besides_graph_wall_ms`` and ``..._cpu_ms`` are the medians of the
  request's times less the graph's;
- ``stages_ms``: each other step of the request path run on its own on that body, median thread CPU time;
- ``framework_ms``: ``besides_graph_cpu_ms`` minus the stages: Starlette and FastAPI (middleware, routing,
  the response), the micro-batcher or the hand-off to the batch thread;
- ``prediction_log_writer_ms``: the insert of the request's answers into the store by the prediction log's
  writer, a thread beside the requests that writes the answers of many requests at once (measured on
  1,000 rows, prorated), at most every 0.2 s, so mostly outside the requests measured above;
- ``bare_fastapi_1_record``: what the goal is measured against, a FastAPI app whose one endpoint parses
  the body into ``CoverFeatures`` and answers a constant, called the same way.

Writes ``benchmarks/results/profile_predict.json`` (with the load average before and after: the figures
move with the machine's load, so compare runs made side by side).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import uvloop
from fastapi import FastAPI, Response

from covertype.dataset import load_dataset
from covertype.inference.app import create_app
from covertype.inference.prediction_log import AnsweredRecords
from covertype.inference.records import decode_batch, decode_record
from covertype.inference.routes._json import json_response
from covertype.inference.schemas import CoverFeatures
from covertype.model.graph_inputs import Columns, feature_inputs
from covertype.schema import FEATURE_COLUMNS
from covertype.settings import Settings
from covertype.store.engine import store_engine
from covertype.store.predictions import PredictionWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"


def _settings(workdir: Path) -> Settings:
    return Settings(data_dir=workdir, mlflow_tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}")


def _train_once(workdir: Path, candidates: str, time_budget: float) -> None:
    """A champion in ``workdir`` unless one is there already."""
    if (workdir / "mlflow.db").exists():
        return
    from covertype.registry.core import Registry
    from covertype.store.batches import insert_rows
    from covertype.store.engine import create_store_engine
    from covertype.training.pipeline import run_training

    workdir.mkdir(parents=True, exist_ok=True)
    settings = _settings(workdir)
    engine = create_store_engine(settings.database)
    with engine.begin() as connection:
        insert_rows(
            connection, load_dataset(SAMPLE_CSV), group_number=1, batch_number=1, ingested_at=datetime.now()
        )
    engine.dispose()
    run_training(settings, Registry.from_settings(settings), candidates=candidates, time_budget=time_budget)


def _records() -> list[dict[str, Any]]:
    frame = load_dataset(SAMPLE_CSV).iloc[5_000:6_000]
    rows = frame[list(FEATURE_COLUMNS)].itertuples(index=False, name=None)
    return [
        {column: v if isinstance(v, str) else int(v) for column, v in zip(FEATURE_COLUMNS, row, strict=True)}
        for row in rows
    ]


async def _post(app: Any, path: str, body: bytes) -> int:
    """One request through the whole ASGI app; its status code."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50_000),
        "server": ("127.0.0.1", 8001),
    }
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])
    status = 0

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 4)


def _stage(work: Callable[[], object], repeat: int) -> float:
    """Median thread CPU time of ``work`` in ms."""
    samples = []
    for _ in range(repeat):
        started = time.thread_time()
        work()
        samples.append(time.thread_time() - started)
    return _median_ms(samples)


async def _end_to_end(
    request: Callable[[], Awaitable[int]], repeat: int, *, beside: Callable[[], object] | None = None
) -> dict[str, float]:
    """Median wall and process CPU time of ``request``; with ``beside`` (the graph alone), each request is
    followed by a run of it, and the request's times less the graph's are given too (each pair sees the
    same load)."""
    for _ in range(min(repeat, 20)):
        assert await request() == 200
    wall, cpu, graph_wall, graph_cpu = [], [], [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        await request()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        if beside is not None:
            started, started_cpu = time.perf_counter(), time.thread_time()
            beside()
            graph_wall.append(time.perf_counter() - started)
            graph_cpu.append(time.thread_time() - started_cpu)
    measured = {"wall_ms": _median_ms(wall), "cpu_ms": _median_ms(cpu)}
    if beside is not None:
        measured["graph_alone_ms"] = _median_ms(graph_cpu)
        measured["besides_graph_wall_ms"] = _median_ms([r - g for r, g in zip(wall, graph_wall, strict=True)])
        measured["besides_graph_cpu_ms"] = _median_ms([r - g for r, g in zip(cpu, graph_cpu, strict=True)])
    return measured


def _log_writes(app: Any, records: list[dict[str, Any]], count: int) -> float:
    """CPU time of the prediction log's writer for ``count`` answers, from inserts of 1,000 rows (the
    writer gathers the answers of the last 0.2 s into one insert)."""
    columns = decode_batch(msgspec.json.encode({"records": records[:1_000]}))
    assert columns is not None
    engine = store_engine(app.state.settings)
    answered = AnsweredRecords(columns, [1] * 1_000, [0.5] * 1_000, "covertype", "profile", datetime.now())
    try:
        written = _stage(partial(PredictionWriter(engine).write, answered.table_columns()), 20)
    finally:
        engine.dispose()
    return round(written * count / 1_000, 4)


def _bare_app() -> FastAPI:
    bare = FastAPI()
    constant = msgspec.json.encode({"cover_type": 5})

    @bare.post("/predict")
    async def predict(record: CoverFeatures) -> Response:
        return Response(constant, media_type="application/json")

    return bare


async def _profile(app: Any, records: list[dict[str, Any]], count: int, repeat: int) -> dict[str, Any]:
    service, served = app.state.service, app.state.holder.current
    if count == 1:
        path, body = "/predict", msgspec.json.encode(records[0])
        decode: Callable[[bytes], object] = decode_record
        row = decode_record(body)
        assert row is not None
        columns: Columns = list(zip(row))
    else:
        path, body = "/predict/batch", msgspec.json.encode({"records": records[:count]})
        decode = decode_batch
        decoded = decode_batch(body)
        assert decoded is not None
        columns = decoded
    inputs = feature_inputs(columns)
    probabilities = served.predict_proba(columns)
    payload = service.answer(columns)
    stages = {
        "decode and check the body (msgspec)": _stage(partial(decode, body), repeat),
        "graph inputs (feature_inputs)": _stage(partial(feature_inputs, columns), repeat),
        "labels, answers, log enqueue, class counters": _stage(
            partial(service.answers, served, columns, probabilities), repeat
        ),
        "encode the answer (msgspec)": _stage(
            partial(json_response, payload[0] if count == 1 else {"predictions": payload}), repeat
        ),
    }
    graph = partial(served.predictor.predict_proba_inputs, inputs)
    measured = await _end_to_end(partial(_post, app, path, body), repeat, beside=graph)
    return {
        **measured,
        "stages_ms": stages,
        "framework_ms": round(measured["besides_graph_cpu_ms"] - sum(stages.values()), 4),
        "prediction_log_writer_ms": _log_writes(app, records, count),
    }


async def _run(workdir: Path, repeat: int) -> dict[str, Any]:
    records = _records()
    app = create_app(_settings(workdir))
    async with app.router.lifespan_context(app):
        while app.state.holder.current is None:
            await asyncio.sleep(0.1)
        single = await _profile(app, records, 1, repeat)
        batch = await _profile(app, records, 1_000, max(repeat // 10, 20))
    bare, one = _bare_app(), msgspec.json.encode(records[0])
    return {
        "1_record": single,
        "1000_records": batch,
        "bare_fastapi_1_record": await _end_to_end(partial(_post, bare, "/predict", one), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(".covertype/profile"))
    parser.add_argument("--candidates", default="extra_trees")
    parser.add_argument("--time-budget", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=400)
    args = parser.parse_args()
    _train_once(args.workdir, args.candidates, args.time_budget)
    load_before = list(os.getloadavg())
    result = uvloop.run(_run(args.workdir, args.repeat))
    print(json.dumps(result))
    print(write_results("profile_predict", result, load_before=load_before))


if __name__ == "__main__":
    main()
