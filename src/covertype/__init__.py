"""covertype: batch ingestion and retraining for the forest cover-type dataset."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("covertype")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
