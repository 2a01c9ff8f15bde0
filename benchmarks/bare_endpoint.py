"""The HTTP ceiling ``bench_inference.py`` compares ``/predict`` with: a FastAPI endpoint that parses the JSON
body and answers a constant, served like the inference API (uvicorn, uvloop, httptools, no access log).

    uv run --frozen python benchmarks/bare_endpoint.py PORT
"""

from __future__ import annotations

import sys

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

app = FastAPI()
_ANSWER = orjson.dumps({"cover_type": 2})


@app.post("/predict")
@app.post("/predict/batch")
async def predict(request: Request) -> Response:
    """Parse the body (as ``/predict`` must) and answer a constant."""
    orjson.loads(await request.body())
    return Response(_ANSWER, media_type="application/json")


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools", access_log=False
    )
