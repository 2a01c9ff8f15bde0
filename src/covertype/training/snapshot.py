"""Versioned Parquet snapshots of the store: what one training run reads, identified by a content digest.

A snapshot is the deduplicated ``forest_cover_data`` rows (13 canonical columns plus ``row_hash``) sorted
by ``row_hash``, so the same stored rows always give the same digest and the same file name whatever the
order they arrived in. Snapshots go to ``settings.snapshots``: an ``s3://bucket/prefix`` URI is written
through the ``minio`` client (the bucket is created if missing), anything else is a local folder.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, inspect, select

from covertype.schema import CATEGORICAL_COLUMNS, COLUMNS, NUMERIC_COLUMNS, TARGET_COLUMN
from covertype.settings import Settings
from covertype.store.engine import store_engine
from covertype.store.tables import forest_cover_data

if TYPE_CHECKING:
    from minio import Minio

#: Rows fetched per round trip when reading the store (server-side cursor where the driver has one).
READ_CHUNK_ROWS = 100_000
SNAPSHOT_COLUMNS: tuple[str, ...] = (*COLUMNS, "row_hash")


@dataclass(frozen=True)
class SnapshotInfo:
    """Where a snapshot is, what it holds (content digest) and how many rows: small enough for XCom."""

    uri: str
    digest: str
    rows: int

    def as_dict(self) -> dict[str, str | int]:
        return asdict(self)


def count_stored_rows(engine: Engine) -> int:
    """Rows in ``forest_cover_data``; 0 while ingestion has not created the table yet."""
    if not inspect(engine).has_table(forest_cover_data.name):
        return 0
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(forest_cover_data)).scalar_one())


def read_store(engine: Engine) -> pd.DataFrame:
    """Every stored row with compact dtypes, read in chunks, duplicates (same 13 values) dropped."""
    table = forest_cover_data
    query = select(*(table.c[name] for name in SNAPSHOT_COLUMNS)).order_by(table.c.id)
    with engine.connect().execution_options(stream_results=True) as conn:
        chunks = [_compact(chunk) for chunk in pd.read_sql(query, conn, chunksize=READ_CHUNK_ROWS)]
    frame = (
        pd.concat(chunks, ignore_index=True) if chunks else _compact(pd.DataFrame(columns=SNAPSHOT_COLUMNS))
    )
    return frame.drop_duplicates(subset=list(COLUMNS), keep="first")


def _compact(chunk: pd.DataFrame) -> pd.DataFrame:
    chunk = chunk.astype({name: np.int32 for name in NUMERIC_COLUMNS} | {TARGET_COLUMN: np.int8})
    return chunk.astype({name: str for name in (*CATEGORICAL_COLUMNS, "row_hash")})


def content_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows' values in ``row_hash`` order: equal for equal content, whatever the row order."""
    ordered = frame.sort_values("row_hash", kind="stable")[list(SNAPSHOT_COLUMNS)]
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def take_snapshot(settings: Settings, engine: Engine | None = None) -> SnapshotInfo:
    """Read the store and write its snapshot to ``settings.snapshots``; idempotent for unchanged data."""
    engine = engine or store_engine(settings)
    frame = read_store(engine)
    if frame.empty:
        raise ValueError(
            f"the store {engine.url.render_as_string(hide_password=True)} holds no rows to snapshot"
        )
    return write_snapshot(frame, settings)


def write_snapshot(frame: pd.DataFrame, settings: Settings) -> SnapshotInfo:
    """Write ``frame`` (13 columns + ``row_hash``) as ``forest_cover-<rows>-<digest>.parquet``."""
    frame = frame.sort_values("row_hash", kind="stable")[list(SNAPSHOT_COLUMNS)].reset_index(drop=True)
    digest = content_digest(frame)
    file_name = f"forest_cover-{len(frame)}-{digest[:16]}.parquet"
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    location = settings.snapshots
    if location.startswith("s3://"):
        bucket, prefix = _bucket_and_prefix(location)
        key = f"{prefix}/{file_name}" if prefix else file_name
        client = minio_client(settings)
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
        payload = buffer.getvalue()
        client.put_object(
            bucket, key, io.BytesIO(payload), len(payload), content_type="application/vnd.apache.parquet"
        )
        uri = f"s3://{bucket}/{key}"
    else:
        folder = Path(location).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / file_name
        temporary = path.with_suffix(".parquet.partial")
        temporary.write_bytes(buffer.getvalue())
        temporary.replace(path)  # atomic: a reader never sees half a snapshot
        uri = str(path)
    return SnapshotInfo(uri=uri, digest=digest, rows=len(frame))


def read_snapshot(uri: str, settings: Settings) -> pd.DataFrame:
    """The frame a snapshot URI (``s3://...`` or a local path) holds."""
    if uri.startswith("s3://"):
        bucket, key = _bucket_and_prefix(uri)
        response = minio_client(settings).get_object(bucket, key)
        try:
            payload = response.read()
        finally:
            response.close()
            response.release_conn()
        return pd.read_parquet(io.BytesIO(payload), engine="pyarrow")
    return pd.read_parquet(uri, engine="pyarrow")


def minio_client(settings: Settings) -> Minio:
    """The MinIO/S3 client for snapshot URIs; needs ``COVERTYPE_MINIO_ENDPOINT`` (host:port)."""
    from minio import Minio

    if not settings.minio_endpoint:
        raise ValueError(
            f"snapshot location {settings.snapshots!r} is on S3 but COVERTYPE_MINIO_ENDPOINT is not set"
        )
    return Minio(
        settings.minio_endpoint,
        access_key=settings.minio_access_key,
        secret_key=settings.minio_secret_key,
        secure=settings.minio_secure,
    )


def _bucket_and_prefix(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if not parsed.netloc:
        raise ValueError(f"snapshot location {uri!r} names no bucket (expected s3://bucket/prefix)")
    return parsed.netloc, parsed.path.strip("/")
