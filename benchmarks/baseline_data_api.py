"""The course's reference data API, re-created as the yardstick of ``bench_data_api.py``.

Not part of the package and not for use: it serves the same contract the way the course's service does
(rows kept as lists of strings from ``csv.reader``, ``random.sample`` of the slice on every request,
FastAPI's default JSON encoding of a returned dict), with the batch schedule held in memory.

Run: ``BASELINE_DATA_FILE=course.csv uvicorn baseline_data_api:create_app --factory --app-dir benchmarks``
"""

from __future__ import annotations

import csv
import os
import random
import time

from fastapi import FastAPI, HTTPException

GROUPS = 10
BATCHES = 10
MIN_UPDATE_TIME = 300


def create_app() -> FastAPI:
    with open(os.environ["BASELINE_DATA_FILE"], newline="") as handle:
        reader = csv.reader(handle)
        columns = next(reader)
        data = list(reader)
    batch_size = len(data) // BATCHES
    timestamps: dict[int, list[float]] = {}  # group -> [batch start time, batch index from 0]
    app = FastAPI(title="baseline data API")

    # No return annotation, as in the course: the dict goes through FastAPI's jsonable_encoder.
    @app.get("/data")
    async def read_data(group_number: int):
        if group_number < 1 or group_number > GROUPS:
            raise HTTPException(status_code=400, detail="Invalid group number")
        now = time.time()
        started, batch = timestamps.setdefault(group_number, [now, 0])
        if now - started >= MIN_UPDATE_TIME:
            if batch >= BATCHES - 1:
                raise HTTPException(status_code=400, detail="All batches were delivered")
            timestamps[group_number] = [now, batch + 1]
            batch += 1
        start = int(batch) * batch_size
        end = len(data) if batch == BATCHES - 1 else start + batch_size
        rows = random.sample(data[start:end], (end - start) // 10)
        return {
            "group_number": group_number,
            "batch_number": int(batch) + 1,
            "columns": columns,
            "data": rows,
        }

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
