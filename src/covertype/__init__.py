"""covertype: batch ingestion and retraining for the forest cover-type dataset."""


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata on first use (the API apps show it):
    importing :mod:`importlib.metadata` takes a third of ``covertype --help``'s imports."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("covertype")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
