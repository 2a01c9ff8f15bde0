"""Inference API against ``mlflow models serve`` on the same registered version, printed as JSON.

For each server: requests/s and latency percentiles of single-record requests from concurrent keep-alive
clients for a fixed time, then the latency of 1,000-record batches. Both servers run one worker on this
machine, one after the other, serving the same version of a model trained on the shared sample (or
``--tracking-uri``/``--version`` to measure an existing registry's version).

    uv run --frozen python benchmarks/bench_inference.py [--duration 20] [--clients 8]

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
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from covertype.dataset import load_dataset
from covertype.processes import Service, ServiceFailed, port_is_free
from covertype.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, TARGET_COLUMN

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "covtype-sample-15k.csv"
HOST = "127.0.0.1"
TARGETS = {"speedup_rps": 3.0, "single_p99_ms": 10.0, "batch_1000_ms": 50.0}


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


def _train_and_register(workdir: Path, frame: pd.DataFrame, classifier: str) -> tuple[str, str]:
    """A champion like the training pipeline's: one-hot + a classifier, logged with cloudpickle."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    estimators = {
        "hgb": lambda: HistGradientBoostingClassifier(max_iter=100, random_state=0),
        "random_forest": lambda: RandomForestClassifier(
            n_estimators=100, max_depth=20, random_state=0, n_jobs=-1
        ),
    }
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.create_experiment("covertype", artifact_location=(workdir / "artifacts").as_uri())
    preprocess = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_COLUMNS))],
        remainder="passthrough",
        sparse_threshold=0,
    )
    pipeline = Pipeline([("preprocess", preprocess), ("classifier", estimators[classifier]())])
    features = frame[list(FEATURE_COLUMNS)]
    pipeline.fit(features, frame[TARGET_COLUMN])
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            serialization_format="cloudpickle",
            signature=infer_signature(features.head(100), pipeline.predict(features.head(100))),
            input_example=features.head(2),
            registered_model_name="covertype",
        )
    version = str(info.registered_model_version)
    MlflowClient(tracking_uri).set_registered_model_alias("covertype", "champion", version)
    return tracking_uri, version


@contextmanager
def _serving(name: str, command: list[str], port: int, health_path: str, env: dict[str, str], log: Path):
    if not port_is_free(HOST, port):
        raise SystemExit(f"port {port} is taken")
    service = Service(name, command, f"http://{HOST}:{port}{health_path}", port, env=env, log_path=log)
    service.start()
    try:
        service.wait_healthy(timeout=180)
        yield
    except ServiceFailed:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        service.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of single-record load per server"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--classifier", choices=["hgb", "random_forest"], default="hgb")
    parser.add_argument(
        "--tracking-uri", help="measure this registry's version instead of a freshly trained one"
    )
    parser.add_argument("--version", help="with --tracking-uri: the version (default: the champion's)")
    parser.add_argument("--ports", type=int, nargs=2, default=[18701, 18702])
    args = parser.parse_args()

    frame = load_dataset(SAMPLE_CSV)
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
            tracking_uri, version = _train_and_register(workdir, frame, args.classifier)
            model = {"classifier": args.classifier, "trained_on_rows": len(frame), "version": version}
        env = {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "COVERTYPE_DATA_DIR": str(workdir),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        }
        ours_port, mlflow_port = args.ports
        results: dict[str, Any] = {"model": model, "clients": args.clients, "duration_s": args.duration}
        with _serving(
            "covertype inference-api",
            [str(bin_dir / "covertype"), "inference-api", "--port", str(ours_port)],
            ours_port,
            "/ready",
            env,
            workdir / "inference-api.log",
        ):
            results["covertype_inference_api"] = measure(
                _ours(ours_port), records, clients=args.clients, duration=args.duration
            )
        with _serving(
            "mlflow models serve",
            [
                str(bin_dir / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/covertype/{version}",
                "--env-manager",
                "local",
                "-h",
                HOST,
                "-p",
                str(mlflow_port),
                "-w",
                "1",
            ],
            mlflow_port,
            "/ping",
            env,
            workdir / "mlflow-serve.log",
        ):
            results["mlflow_models_serve"] = measure(
                _mlflow(mlflow_port), records, clients=args.clients, duration=args.duration
            )
    ours, theirs = results["covertype_inference_api"], results["mlflow_models_serve"]
    speedup = ours["single_record"]["requests_per_second"] / theirs["single_record"]["requests_per_second"]
    results["speedup_rps"] = round(speedup, 2)
    results["targets"] = {
        "speedup_rps >= 3": speedup >= TARGETS["speedup_rps"],
        "single p99 < 10 ms": ours["single_record"]["p99_ms"] < TARGETS["single_p99_ms"],
        "batch_1000 p50 < 50 ms": ours["batch_1000"]["p50_ms"] < TARGETS["batch_1000_ms"],
    }
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
