"""Inference API against ``mlflow models serve`` on the same registered version, and against the HTTP ceiling.

The champion is what the pipeline produces: the shared sample is stored and ``run_training`` (what
``covertype train`` runs) searches, exports and registers it (or ``--tracking-uri``/``--version`` to
measure an existing registry's version). For each server: requests/s and latency percentiles of
single-record requests from concurrent keep-alive clients for a fixed time, then the latency of
1,000-record batches; each runs one worker, one after the other. The ceiling is ``bare_endpoint.py``: a
FastAPI endpoint served like ours (uvicorn, uvloop, httptools) that parses the body and answers a constant;
``/predict`` is measured as a share of its requests per second in the same run. Beside them: the ONNX
graph's size and latency as the promotion gate measured it, ONNX Runtime session options measured
in-process (threads x graph optimisation), the champion's holdout accuracy against the same candidate
grown without the size budget, and the load average.

    uv run --frozen python benchmarks/bench_inference.py [--duration 20] [--clients 8] [--time-budget 15]

Writes ``benchmarks/results/inference.json``.

The load generator is a minimal asyncio HTTP/1.1 client so that it costs the servers as little CPU as
possible on a two-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from covertype.dataset import load_dataset
from covertype.processes import Service, ServiceFailed, port_is_free
from covertype.schema import FEATURE_COLUMNS, TARGET_COLUMN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_results  # noqa: E402

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"
HOST = "127.0.0.1"
TARGETS = {
    "speedup_rps": 150.0,
    "share_of_bare_rps": 0.5,
    "single_p99_ms": 10.0,
    "batch_1000_ms": 20.0,
    "onnx_mb": 50.0,
    "accuracy_loss_points": 0.5,
}


@dataclass(frozen=True)
class Endpoint:
    """How one server takes a single record and a batch of records."""

    name: str
    port: int
    single_path: str
    batch_path: str
    single_body: Callable[[dict[str, Any]], bytes]
    batch_body: Callable[[list[dict[str, Any]]], bytes]


def _ours(port: int) -> Endpoint:
    return Endpoint(
        name="covertype inference-api",
        port=port,
        single_path="/predict",
        batch_path="/predict/batch",
        single_body=orjson.dumps,
        batch_body=lambda records: orjson.dumps({"records": records}),
    )


def _mlflow(port: int) -> Endpoint:
    def frame(records: list[dict[str, Any]]) -> bytes:
        data = [[record[c] for c in FEATURE_COLUMNS] for record in records]
        return orjson.dumps({"dataframe_split": {"columns": list(FEATURE_COLUMNS), "data": data}})

    return Endpoint(
        name="mlflow models serve",
        port=port,
        single_path="/invocations",
        batch_path="/invocations",
        single_body=lambda record: frame([record]),
        batch_body=frame,
    )


def _request(endpoint: Endpoint, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{endpoint.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _client(
    endpoint: Endpoint,
    requests: list[bytes],
    offset: int,
    until: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(HOST, endpoint.port)
    try:
        index = offset
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(requests[index % len(requests)])
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
            index += 1
    finally:
        writer.close()


async def _load(endpoint: Endpoint, requests: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_client(endpoint, requests, i * 97, until, latencies, errors) for i in range(clients))
    )
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(elapsed, 2),
        **_summary(latencies),
    }


def _summary(latencies: list[float]) -> dict[str, float]:
    ms = np.asarray(latencies) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def measure(
    endpoint: Endpoint, records: list[dict[str, Any]], *, clients: int, duration: float
) -> dict[str, Any]:
    """Single-record load (after a short warm-up), then sequential 1,000-record batches."""
    singles = [_request(endpoint, endpoint.single_path, endpoint.single_body(r)) for r in records]
    asyncio.run(_load(endpoint, singles, clients, min(3.0, duration)))
    single = asyncio.run(_load(endpoint, singles, clients, duration))
    single["requests_per_second"] = round(single["requests"] / single["seconds"], 1)
    batch_request = _request(endpoint, endpoint.batch_path, endpoint.batch_body(records[:1000]))
    asyncio.run(_load(endpoint, [batch_request], 1, 1.0))
    batch = asyncio.run(_load(endpoint, [batch_request], 1, max(3.0, duration / 4)))
    return {"single_record": single, "batch_1000": batch}


def _train_champion(workdir: Path, candidates: str | None, time_budget: float) -> dict[str, Any]:
    """Store the shared sample and run the training pipeline on it; its summary (champion = version 1)."""
    from covertype.registry.core import Registry
    from covertype.store.batches import insert_rows
    from covertype.store.engine import create_store_engine
    from covertype.training.pipeline import run_training

    settings = _settings(workdir, f"sqlite:///{workdir / 'mlflow.db'}")
    engine = create_store_engine(settings.database)
    with engine.begin() as conn:
        insert_rows(
            conn, load_dataset(SAMPLE_CSV), group_number=1, batch_number=1, ingested_at=datetime.now()
        )
    engine.dispose()
    return run_training(
        settings, Registry.from_settings(settings), candidates=candidates, time_budget=time_budget
    )


def _settings(workdir: Path, tracking_uri: str) -> Any:
    from covertype.settings import Settings

    return Settings(data_dir=workdir, mlflow_tracking_uri=tracking_uri)


def _unbudgeted_accuracy(workdir: Path, tracking_uri: str, version: str) -> dict[str, Any]:
    """The champion's candidate and parameters grown without the size budget, on the same split.

    Forests: full-depth trees (no ``max_leaf_nodes``) and 200 of them, the top of the search space
    before the budget; HistGradientBoosting: unlimited leaves and 500 iterations.
    """
    from mlflow import MlflowClient
    from threadpoolctl import threadpool_limits

    from covertype.training.candidates import build_pipeline
    from covertype.training.evaluation import evaluate
    from covertype.training.snapshot import read_snapshot
    from covertype.training.split import split_by_hash

    settings = _settings(workdir, tracking_uri)
    client = MlflowClient(tracking_uri)
    run = client.get_run(client.get_model_version("covertype", version).run_id)
    name = run.data.params["candidate"]
    skip = {"candidate", "time_budget", "seed"}
    params = {key: _param(value) for key, value in run.data.params.items() if key not in skip}
    unbudgeted = {**params, "max_leaf_nodes": None}
    unbudgeted.update({"n_estimators": 200} if "n_estimators" in params else {"max_iter": 500})
    train, holdout = split_by_hash(
        read_snapshot(run.data.tags["covertype.snapshot_uri"], settings), settings.holdout_fraction
    )
    with threadpool_limits(limits=1):
        model = build_pipeline(name, unbudgeted, seed=settings.seed).fit(
            train[list(FEATURE_COLUMNS)], train[TARGET_COLUMN]
        )
        accuracy = evaluate(model, holdout).metrics["holdout_accuracy"]
    budgeted = run.data.metrics["holdout_accuracy"]
    return {
        "candidate": name,
        "params": params,
        "holdout_accuracy": round(budgeted, 4),
        "unbudgeted_params": unbudgeted,
        "unbudgeted_holdout_accuracy": round(accuracy, 4),
        "loss_points": round((accuracy - budgeted) * 100, 2),
    }


def _param(text: str) -> Any:
    """An MLflow parameter (logged as text) back as the number or None it was."""
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _session_options(graph: bytes, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median single-row and 1,000-row latency of the graph in-process, per thread count and optimisation."""
    from covertype.model.runtime import GraphPredictor

    rows = [tuple(record[c] for c in FEATURE_COLUMNS) for record in records[:1000]]
    measured = []
    for threads in (1, 2):
        for optimisation in ("disabled", "basic", "all"):
            predictor = GraphPredictor(graph, threads=threads, optimisation=optimisation)
            figures = {"threads": threads, "optimisation": optimisation}
            for label, batch, repeats in (("single_ms", rows[:1], 2000), ("batch_1000_ms", rows, 40)):
                predictor.predict_proba(batch)
                timings = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    predictor.predict_proba(batch)
                    timings.append(time.perf_counter() - started)
                figures[label] = round(float(np.median(timings)) * 1000, 4)
            measured.append(figures)
    return measured


@contextmanager
def _serving(name: str, command: list[str], port: int, health_path: str, env: dict[str, str], log: Path):
    if not port_is_free(HOST, port):
        raise SystemExit(f"port {port} is taken")
    health = f"http://{HOST}:{port}{health_path}"
    try:
        with Service(name, command, health, port, env=env, log_path=log, start_timeout=180):
            yield
    except ServiceFailed:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of single-record load per server"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--candidates", help="comma-separated candidates to train (default: all)")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=15.0,
        help="seconds of search per training, shared by the candidates",
    )
    parser.add_argument(
        "--tracking-uri", help="measure this registry's version instead of a freshly trained one"
    )
    parser.add_argument("--version", help="with --tracking-uri: the version (default: the champion's)")
    parser.add_argument("--ports", type=int, nargs=3, default=[18701, 18702, 18703])
    args = parser.parse_args()

    frame = load_dataset(SAMPLE_CSV)
    load_before = list(os.getloadavg())
    records = [
        {c: (v if isinstance(v, str) else int(v)) for c, v in zip(FEATURE_COLUMNS, row, strict=True)}
        for row in frame[list(FEATURE_COLUMNS)].iloc[:2_000].itertuples(index=False, name=None)
    ]
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as folder:
        workdir = Path(folder)
        if args.tracking_uri:
            from mlflow import MlflowClient

            tracking_uri = args.tracking_uri
            version = (
                args.version
                or MlflowClient(tracking_uri).get_model_version_by_alias("covertype", "champion").version
            )
            model = {"tracking_uri": tracking_uri, "version": version}
        else:
            summary = _train_champion(workdir, args.candidates, args.time_budget)
            tracking_uri, version = f"sqlite:///{workdir / 'mlflow.db'}", summary["registered"]["version"]
            model = {
                "trained_by": "covertype.training.pipeline.run_training (covertype train)",
                "rows": summary["snapshot"]["rows"],
                "time_budget_s": args.time_budget,
                "candidates": {
                    c["name"]: {
                        key: round(c[key], 4)
                        for key in (
                            "validation_accuracy",
                            "holdout_accuracy",
                            "onnx_size_bytes",
                            "onnx_single_p50_ms",
                            "onnx_single_p99_ms",
                            "onnx_batch_ms",
                        )
                        if key in c
                    }
                    for c in summary["candidates"]
                },
                "version": version,
            }
        from covertype.registry.reader import registry_reader
        from covertype.registry.tags import (
            ONNX_ARTIFACT_TAG,
            ONNX_BATCH_MS_TAG,
            ONNX_SINGLE_P50_TAG,
            ONNX_SINGLE_P99_TAG,
            ONNX_SIZE_TAG,
        )

        reader = registry_reader(_settings(workdir, tracking_uri))
        ref = reader.version_by_alias("covertype", "champion")
        graph = reader.run_artifact(ref.run_id or "", ref.tags[ONNX_ARTIFACT_TAG])
        model["onnx_mb"] = round(int(ref.tags[ONNX_SIZE_TAG]) / 1e6, 2)
        model["graph_latency_ms"] = {
            name: float(ref.tags[tag])
            for name, tag in (
                ("single_p50", ONNX_SINGLE_P50_TAG),
                ("single_p99", ONNX_SINGLE_P99_TAG),
                ("batch_1000", ONNX_BATCH_MS_TAG),
            )
            if tag in ref.tags
        }
        model["accuracy"] = _unbudgeted_accuracy(workdir, tracking_uri, version)
        env = {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "COVERTYPE_DATA_DIR": str(workdir),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        }
        ours_port, mlflow_port, bare_port = args.ports
        results: dict[str, Any] = {"model": model, "clients": args.clients, "duration_s": args.duration}
        results["onnx_session_options"] = _session_options(graph, records)
        mlflow_serve = [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/covertype/{version}"]
        servers = [  # (results key, name, command, port, health path, how it takes records)
            (
                "covertype_inference_api",
                "covertype inference-api",
                [str(bin_dir / "covertype"), "inference-api", "--port", str(ours_port)],
                ours_port,
                "/ready",
                _ours(ours_port),
            ),
            (
                "bare_endpoint",
                "bare endpoint",
                [sys.executable, str(Path(__file__).resolve().parent / "bare_endpoint.py"), str(bare_port)],
                bare_port,
                "/ready",
                _ours(bare_port),
            ),
            (
                "mlflow_models_serve",
                "mlflow models serve",
                [*mlflow_serve, "--env-manager", "local", "-h", HOST, "-p", str(mlflow_port), "-w", "1"],
                mlflow_port,
                "/ping",
                _mlflow(mlflow_port),
            ),
        ]
        for key, name, command, port, health, endpoint in servers:
            log = workdir / f"{key}.log"
            with _serving(name, command, port, health, env, log):
                results[key] = measure(endpoint, records, clients=args.clients, duration=args.duration)
    ours, theirs = results["covertype_inference_api"], results["mlflow_models_serve"]
    speedup = ours["single_record"]["requests_per_second"] / theirs["single_record"]["requests_per_second"]
    share = (
        ours["single_record"]["requests_per_second"]
        / results["bare_endpoint"]["single_record"]["requests_per_second"]
    )
    results["speedup_rps"] = round(speedup, 2)
    results["share_of_bare_rps"] = round(share, 3)
    results["targets"] = {
        "speedup_rps >= 150": speedup >= TARGETS["speedup_rps"],
        "share of the bare endpoint's req/s >= 50 %": share >= TARGETS["share_of_bare_rps"],
        "single p99 < 10 ms": ours["single_record"]["p99_ms"] < TARGETS["single_p99_ms"],
        "batch_1000 p50 < 20 ms": ours["batch_1000"]["p50_ms"] < TARGETS["batch_1000_ms"],
        "onnx < 50 MB": model["onnx_mb"] < TARGETS["onnx_mb"],
        "accuracy within 0.5 points of unbudgeted": model["accuracy"]["loss_points"]
        <= TARGETS["accuracy_loss_points"],
    }
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    print(write_results("inference", results, load_before=load_before))


if __name__ == "__main__":
    main()
