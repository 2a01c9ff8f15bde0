"""Versioned Parquet snapshots of the store: what one training run reads, identified by a content digest.

A snapshot is the deduplicated stored rows (13 canonical columns plus ``row_hash``, read by
:func:`covertype.store.rows.read_stored_rows`) sorted by ``row_hash``, so the same stored rows always give
the same digest and the same file name whatever the order they arrived in. Snapshots go to
``settings.snapshots``: an ``s3://bucket/prefix`` URI is written through the ``minio`` client (the bucket
is created if missing), anything else is a local folder.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pandas as pd

from covertype.settings import Settings
from covertype.store.engine import Engine, store_engine, store_location
from covertype.store.rows import STORED_ROW_COLUMNS, read_stored_rows

if TYPE_CHECKING:
    from minio import Minio


@dataclass(frozen=True)
class SnapshotInfo:
    """Where a snapshot is, what it holds (content digest) and how many rows: small enough for XCom."""

    uri: str
    digest: str
    rows: int

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SnapshotInfo:
        return cls(uri=str(data["uri"]), digest=str(data["digest"]), rows=int(data["rows"]))


def content_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows' values in ``row_hash`` order: equal for equal content, whatever the row order."""
    ordered = frame.sort_values("row_hash", kind="stable")[list(STORED_ROW_COLUMNS)]
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def take_snapshot(settings: Settings, engine: Engine | None = None) -> SnapshotInfo:
    """Read the store and write its snapshot to ``settings.snapshots``; idempotent for unchanged data."""
    engine = engine or store_engine(settings)
    frame = read_stored_rows(engine)
    if frame.empty:
        raise ValueError(f"the store {store_location(engine.url)} holds no rows to snapshot")
    return write_snapshot(frame, settings)


def write_snapshot(frame: pd.DataFrame, settings: Settings) -> SnapshotInfo:
    """Write ``frame`` (13 columns + ``row_hash``) as ``forest_cover-<rows>-<digest>.parquet``."""
    frame = frame.sort_values("row_hash", kind="stable")[list(STORED_ROW_COLUMNS)].reset_index(drop=True)
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
