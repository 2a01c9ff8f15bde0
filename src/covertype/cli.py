"""The ``covertype`` command: one entry point for every service and pipeline step.

Every import beyond typer happens inside the command that needs it (the settings' pydantic too), so that
``covertype --help`` answers at once, a command pays only for what it uses (``covertype ingest`` imports no
MLflow while there is no champion) and each deployable needs only its own extra.
``benchmarks/bench_cli_startup.py`` measures it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from covertype.schema import CANDIDATE_NAMES

if TYPE_CHECKING:
    from covertype.settings import Settings

app = typer.Typer(
    name="covertype",
    help="Batch ingestion and retraining for the forest cover-type dataset.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # click's plain help: the rich panels print "<bool>" as the type of every flag
)

Host = Annotated[str, typer.Option(help="interface to bind")]
Workers = Annotated[int, typer.Option(min=1, help="uvicorn worker processes")]


def get_settings() -> Settings:
    """:func:`covertype.settings.get_settings`, imported when a command runs, not for ``--help``."""
    from covertype import settings

    return settings.get_settings()


def _print_json(payload: object) -> None:
    typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2, default=str).decode())


@app.command("data-api")
def data_api(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Workers = 1,
) -> None:
    """Serve forest-cover batches per group number (GET /data?group_number=N)."""
    from covertype.data_api.app import create_app
    from covertype.serving import serve

    # build_first: a bad dataset or state file stops the command with one message; a download happens once.
    serve("data API", create_app, get_settings(), host=host, port=port, workers=workers, build_first=True)


@app.command("inference-api")
def inference_api(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8001,
    workers: Workers = 1,
) -> None:
    """Serve predictions from the registry's champion model (POST /predict)."""
    from covertype.inference.app import create_app
    from covertype.serving import serve

    # Each worker loads and follows the model itself. uvloop and httptools: the fastest event loop and
    # HTTP parser uvicorn offers (uvicorn[standard]); no access log on the hot path.
    serve(
        "inference API",
        create_app,
        get_settings(),
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
    )


@app.command()
def ingest(
    group: Annotated[int | None, typer.Option(min=1, help="group to poll (default COVERTYPE_GROUP)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="log every retry of the data API")] = False,
) -> None:
    """Poll the data API once for a group, store the batch and have the champion score it (test-then-train:
    before any training sees it), as the ingestion DAG does."""
    import logging

    from covertype.ingestion import IngestionFailed, NotEvaluated, ingest_and_evaluate

    # Without handlers, Python prints warnings (tenacity's "Retrying ...") to stderr: only on request.
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(levelname)s %(message)s")
    try:
        done = ingest_and_evaluate(get_settings(), group=group)
    except IngestionFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except NotEvaluated as exc:
        _print_json(exc.ingestion.to_dict() | {"evaluation": {"status": "failed", "detail": str(exc)}})
        typer.echo(f"error: batch stored, but its evaluation failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    _print_json(done.to_dict())


@app.command()
def monitor(
    group: Annotated[int | None, typer.Option(help="only this group's batches")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list instead of a table")] = False,
) -> None:
    """How the champion did on each stored batch before training on it (table ``batch_quality``)."""
    from covertype.monitoring.report import quality_table
    from covertype.store.engine import store_engine
    from covertype.store.quality import batch_quality_rows

    engine = store_engine(get_settings())
    try:
        rows = batch_quality_rows(engine, group_number=group)
    finally:
        engine.dispose()
    if as_json:
        _print_json([row.to_dict() for row in rows])
        return
    from rich.console import Console

    Console().print(quality_table(rows, threshold=get_settings().drift_threshold))


db_app = typer.Typer(help="The training-data store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[
        str | None,
        typer.Option(help="privileged URL to migrate with (default COVERTYPE_MIGRATION_DATABASE_URL)"),
    ] = None,
) -> None:
    """Apply the store's schema migrations (Alembic); a database without any is stamped at the baseline."""
    from covertype.store.engine import create_store_engine
    from covertype.store.errors import StoreError
    from covertype.store.migrate import upgrade_schema

    url = database_url or get_settings().migration_database
    try:
        engine = create_store_engine(url, migrate=False)
        try:
            result = upgrade_schema(engine)
        finally:
            engine.dispose()
    except (StoreError, ValueError) as exc:
        typer.echo(f"error: cannot migrate the store: {exc}", err=True)
        raise typer.Exit(1) from exc
    _print_json({"database": engine.url.render_as_string(hide_password=True), **result.to_dict()})


@app.command()
def train(
    candidates: Annotated[
        str | None,
        typer.Option(
            help=f"comma-separated, from: {', '.join(CANDIDATE_NAMES)} (default COVERTYPE_CANDIDATES)"
        ),
    ] = None,
    time_budget: Annotated[
        float | None, typer.Option(help="seconds of search per training, shared by the candidates")
    ] = None,
    force: Annotated[bool, typer.Option(help="train whatever the retraining signals say")] = False,
) -> None:
    """Train for a reason (new rows, accuracy drop, drift): snapshot, train candidates, register, promote."""
    from covertype.registry.core import Registry
    from covertype.training.pipeline import NoCandidateTrained, candidate_names, run_training

    settings = get_settings()
    try:
        candidate_names(settings, candidates)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        summary = run_training(
            settings,
            Registry.from_settings(settings),
            candidates=candidates,
            time_budget=time_budget,
            force=force,
        )
    except NoCandidateTrained as exc:  # each failure is recorded in its MLflow run
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _print_json(summary)


#: ``covertype promote``'s exit code when the alias moved but the inference API could not be told.
PROMOTED_NOT_RELOADED = 3
#: ``covertype promote``'s exit code when the alias moved again (a training run) before the API reloaded.
PROMOTED_THEN_MOVED = 4


@app.command()
def promote(
    version: Annotated[str, typer.Option(help="registered version to serve (e.g. 3)")],
    reason: Annotated[str | None, typer.Option(help="why, recorded as a tag on the version")] = None,
) -> None:
    """Point the champion alias at a registered version (a roll back), then have the inference API at
    COVERTYPE_INFERENCE_API_URL reload it: returns once the API serves it. Exit 3: the alias moved but
    the API could not be reached (it follows on its next poll); exit 4: the alias moved again meanwhile."""
    from covertype.registry.aliases import RefusedVersion, promote_version
    from covertype.registry.core import Registry
    from covertype.ui import ServiceError, reload_model

    settings = get_settings()
    try:
        result = promote_version(Registry.from_settings(settings), version, reason=reason)
    except RefusedVersion as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    moved = f"{settings.model_alias} moved to v{result['version']}"
    try:
        served = reload_model(settings, settings.api_token)["model"]["version"]
    except ServiceError as exc:
        _print_json(result)
        typer.echo(
            f"error: {moved}, but {exc}; the inference API picks the version up on its next poll "
            f"(every {settings.model_poll_interval:g} s)",
            err=True,
        )
        raise typer.Exit(PROMOTED_NOT_RELOADED) from exc
    _print_json({**result, "served": {"url": settings.inference_api_url, "version": served}})
    if served != result["version"]:
        typer.echo(
            f"error: {moved}, but the inference API at {settings.inference_api_url} serves v{served}: "
            "the alias moved again before it reloaded (a training run promoted?)",
            err=True,
        )
        raise typer.Exit(PROMOTED_THEN_MOVED)


@app.command()
def ui(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8501,
) -> None:
    """Serve the web UI: predict, watch the pipeline, manage the champion."""
    import os

    from covertype.ui import streamlit_command

    command = streamlit_command(host=host, port=port)
    os.execv(command[0], command)  # Streamlit takes over this process: signals reach it directly


@app.command()
def up(
    host: Host = "127.0.0.1",
    data_api_port: Annotated[int, typer.Option(help="data API port")] = 8000,
    inference_port: Annotated[int, typer.Option(help="inference API port")] = 8001,
    mlflow_port: Annotated[int, typer.Option(help="MLflow server port")] = 5000,
    airflow_port: Annotated[int, typer.Option(help="Airflow UI/API port")] = 8080,
    ui_port: Annotated[int, typer.Option(help="web UI port")] = 8501,
    airflow: Annotated[bool, typer.Option(help="start Airflow standalone too")] = True,
    dags_folder: Annotated[Path, typer.Option(help="folder of the DAG files")] = Path("dags"),
) -> None:
    """Start the whole stack locally on embedded defaults; Ctrl-C stops everything."""
    from covertype.local_stack import (
        Ports,
        StateLocked,
        build_services,
        data_note,
        hold_state_lock,
        run_stack,
        urls,
    )
    from covertype.processes import Interrupted, PortInUse, Service, ServiceFailed

    settings = get_settings()
    if airflow and not dags_folder.is_dir():
        typer.echo(
            f"error: DAG folder {dags_folder} not found (run from the repository or pass --dags-folder)",
            err=True,
        )
        raise typer.Exit(2)
    ports = Ports(data_api_port, inference_port, mlflow_port, airflow_port, ui_port)

    def ready() -> None:
        width = max(len(name) for name, _ in urls(services, settings))
        typer.echo("covertype is up:")
        for name, url in urls(services, settings):
            typer.echo(f"  {name:<{width}}  {url}")
        typer.echo("Press Ctrl-C to stop.")

    def service_ready(service: Service, elapsed: float) -> None:
        typer.echo(f"  {service.name} ready ({elapsed:.1f} s)")
        if service.name == "data API":
            typer.echo(f"    {data_note(service.health_url, settings.sample_fraction)}")

    try:
        with hold_state_lock(settings.data_dir.resolve()):
            services = build_services(
                settings, ports=ports, dags_folder=dags_folder, host=host, airflow=airflow
            )
            logs = settings.data_dir.resolve() / "logs"
            typer.echo(f"starting {', '.join(s.name for s in services)} (logs in {logs})")
            run_stack(services, host=host, on_ready=ready, on_service_ready=service_ready)
    except Interrupted as exc:
        typer.echo(f"{exc} while starting: stopped what had started.", err=True)
        raise typer.Exit(128 + exc.signum) from exc
    except (StateLocked, PortInUse, ServiceFailed) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo("stopped.")


@app.command()
def demo(
    workdir: Annotated[
        Path | None, typer.Option(help="fresh folder for the demo (default <data dir>/demo)")
    ] = None,
    interval: Annotated[float, typer.Option(help="seconds between batches")] = 1.0,
    sample_fraction: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="share of each slice per poll")
    ] = 1.0,
    time_budget: Annotated[
        float, typer.Option(help="seconds of search per training, shared by the candidates")
    ] = 25.0,
    max_rows: Annotated[
        int, typer.Option(min=1_000, help="rows ingested at most (a sample of every batch)")
    ] = 10_000,
    data_api_port: Annotated[int, typer.Option(help="data API port")] = 8100,
    inference_port: Annotated[int, typer.Option(help="inference API port")] = 8101,
) -> None:
    """Run the whole job headless on the configured source and print a summary."""
    from rich.console import Console

    from covertype.dataset import DatasetError
    from covertype.demo import demo_settings, print_summary, run_demo
    from covertype.processes import PortInUse, ServiceFailed, port_is_free

    base = get_settings()
    for port in (data_api_port, inference_port):
        if not port_is_free("127.0.0.1", port):
            typer.echo(
                f"error: port {port} is already in use; pass --data-api-port/--inference-port", err=True
            )
            raise typer.Exit(1)
    settings = demo_settings(
        base,
        workdir=(workdir or base.data_dir / "demo").resolve(),
        interval=interval,
        sample_fraction=sample_fraction,
        time_budget=time_budget,
        data_api_port=data_api_port,
    )
    console = Console()
    try:
        summary = run_demo(
            settings,
            console=console,
            data_api_port=data_api_port,
            inference_port=inference_port,
            max_rows=max_rows,
        )
    except (PortInUse, ServiceFailed, TimeoutError, DatasetError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    print_summary(summary, console)


def main() -> None:  # pragma: no cover - console entry point
    app()
