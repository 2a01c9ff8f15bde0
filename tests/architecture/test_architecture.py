"""The package's architecture rules, checked on its source by an ast scan (scripts/package_imports.py).

A *part* is a top-level package or module of covertype. The rules: neither the parts nor the modules import
each other in a cycle, and the foundation imports nothing above it; a part reaches into another package only
through the modules that package declares public (the table below), each of which exists; one module builds
the MLflow client, and only ``covertype.registry`` calls its methods; and only ``covertype.store`` runs SQL
on the store (SQLAlchemy; the data API's own window state is a separate sqlite3 file and out of scope).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from package_imports import (  # noqa: E402
    DEFAULT_SOURCE,
    Module,
    find_cycle,
    imports,
    module_graph,
    modules,
    package_graph,
    part_of,
)

#: Rules today's main breaks on purpose (issue 15); the marks go when the registry and store branches are in.

#: The bottom of the layers: everything else may build on these, they build on nothing else.
FOUNDATION = frozenset({"schema", "settings", "pause_points", "store", "registry"})
#: The parts that assemble the system; only they may start the services.
COMPOSITION_ROOTS = frozenset({"cli", "local_stack", "demo"})


@dataclass(frozen=True)
class Boundary:
    """What a package shows the rest of covertype.

    ``public``: its modules other parts may import, relative to the package ("" is the package itself,
    i.e. what its ``__init__`` exports); every other module is internal. ``importers``: the only parts
    that may import it at all (None: any part).
    """

    public: frozenset[str]
    importers: frozenset[str] | None = None


BOUNDARIES: dict[str, Boundary] = {
    # The three services are leaves: only the composition roots start them (app factory or runner).
    "data_api": Boundary(frozenset({"", "app"}), COMPOSITION_ROOTS),
    "inference": Boundary(frozenset({"", "app"}), COMPOSITION_ROOTS),
    "ui": Boundary(frozenset({""}), COMPOSITION_ROOTS),
    # The pipeline: what the CLI, the demo and the services call.
    "ingestion": Boundary(frozenset({""})),
    "training": Boundary(frozenset({"", "pipeline", "snapshot", "split"})),
    "monitoring": Boundary(frozenset({"", "evaluation", "report"})),
    # What only Airflow runs (it imports Airflow): the DAG files, outside the package, are its only users.
    "orchestration": Boundary(frozenset({""}), frozenset()),
    # The model contract is public module by module, so that inference loads it without scikit-learn.
    "model": Boundary(frozenset({"features", "pipelines", "onnx_export", "graph_inputs", "runtime"})),
    # The foundation. The store's tables and row hashing stay inside it: others call its functions.
    "store": Boundary(
        frozenset(
            {
                "",
                "engine",
                "batches",
                "reads",
                "errors",
                "rows",
                "run_log",
                "predictions",
                "quality",
                "migrate",
            }
        )
    ),
    # The registry's modules each serve one user; its client factory and the users-and-grants tool stay
    # inside (others get a ``Registry``, built by ``Registry.from_settings``).
    "registry": Boundary(
        frozenset({"", "core", "runs", "tags", "types", "aliases", "queries", "reader", "evidence"})
    ),
}

#: SQLAlchemy's statement builders: whoever imports one writes SQL.
SQL_CONSTRUCTS = frozenset(
    {
        "select",
        "insert",
        "update",
        "delete",
        "text",
        "func",
        "exists",
        "union",
        "union_all",
        "literal_column",
        "bindparam",
        "lambda_stmt",
        "Table",
        "MetaData",
        "Session",
    }
)
#: Methods that send SQL through a SQLAlchemy connection or engine.
SQL_EXECUTION = frozenset({"execute", "exec_driver_sql", "scalar", "scalars"})
#: pandas' readers that send SQL through whatever connection they are given.
PANDAS_SQL = frozenset({"pandas.read_sql", "pandas.read_sql_query", "pandas.read_sql_table"})

SCANNED = modules(DEFAULT_SOURCE)
IMPORTS = imports(DEFAULT_SOURCE)
GRAPH = package_graph(DEFAULT_SOURCE)


def outside(part: str) -> list[Module]:
    return [module for module in SCANNED if module.part != part]


def test_the_scan_sees_the_package() -> None:
    assert {"cli", "schema", "settings", "store", "training", "inference"} <= set(GRAPH)
    assert GRAPH["store"] >= {"schema"}


def test_package_imports_have_no_cycle() -> None:
    cycle = find_cycle(GRAPH)

    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_module_imports_have_no_cycle() -> None:
    """Within a part too: two modules importing each other (even inside a function) are one module in two
    files, and whichever is imported first sees the other half-initialised."""
    cycle = find_cycle(module_graph(DEFAULT_SOURCE))

    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_public_module_in_boundaries_exists() -> None:
    names = {module.name for module in SCANNED}
    missing = sorted(
        f"covertype.{package}.{public}".rstrip(".")
        for package, boundary in BOUNDARIES.items()
        for public in boundary.public
        if f"covertype.{package}.{public}".rstrip(".") not in names
    )

    assert missing == [], "BOUNDARIES names modules that do not exist"


def test_the_foundation_imports_nothing_above_it() -> None:
    upward = {
        part: GRAPH[part] - FOUNDATION for part in FOUNDATION & GRAPH.keys() if GRAPH[part] - FOUNDATION
    }

    assert upward == {}


def test_every_package_declares_its_boundary() -> None:
    packages = {module.part for module in SCANNED if module.is_package and module.part}

    assert packages - BOUNDARIES.keys() == set(), "add a row to BOUNDARIES for each new package"


@pytest.mark.parametrize(
    "package",
    sorted(BOUNDARIES),
)
def test_other_parts_import_only_the_public_api(package: str) -> None:
    boundary = BOUNDARIES[package]
    crossings = [
        found for found in IMPORTS if part_of(found.target) == package and part_of(found.importer) != package
    ]
    internal = [
        f"{found.importer}:{found.line} imports {found.target}"
        for found in crossings
        if found.target.removeprefix(f"covertype.{package}").lstrip(".") not in boundary.public
    ]
    unwelcome = [
        f"{found.importer}:{found.line} imports {found.target}"
        for found in crossings
        if boundary.importers is not None and part_of(found.importer) not in boundary.importers
    ]

    assert not internal, f"internals of covertype.{package} used outside it:\n" + "\n".join(internal)
    assert not unwelcome, f"only {sorted(boundary.importers or ())} may import it:\n" + "\n".join(unwelcome)


@pytest.mark.parametrize(
    ("constructor", "owner"),
    [pytest.param("mlflow.MlflowClient", "registry", id="MlflowClient")],
)
def test_one_module_builds_the_client(constructor: str, owner: str) -> None:
    """Whatever path it is imported by (``mlflow.MlflowClient``, ``mlflow.tracking.MlflowClient``)."""
    short = constructor.rsplit(".", 1)[-1]
    package = constructor.split(".", 1)[0]
    builders = sorted(
        {
            module.name
            for module in SCANNED
            for reference in module.references()
            if reference.called
            and reference.name.split(".")[0] == package
            and reference.name.rsplit(".", 1)[-1] == short
        }
    )

    assert len(builders) == 1, f"{short} is built in {builders}"
    assert part_of(builders[0]) == owner


#: What reaches the MLflow client itself: its class, the modules defining it, the registry's factory of it.
MLFLOW_CLIENT_NAMES = ("mlflow.MlflowClient", "mlflow.tracking", "mlflow.client", "covertype.registry.client")
#: Attributes that hold a client (``Registry._client``, ``Runs.client``): a call through one is a client call.
CLIENT_ATTRIBUTES = frozenset({"client", "_client"})


def mlflow_client_calls(module: Module) -> list[str]:
    """References to the client (:data:`MLFLOW_CLIENT_NAMES`), and calls of a method through an attribute
    holding one (``registry.runs.client.get_run(...)``)."""
    references = [
        f"{module.name}:{reference.line} uses {reference.name}"
        for reference in module.references()
        if reference.name.startswith(MLFLOW_CLIENT_NAMES)
    ]
    through_attribute = [
        f"{module.name}:{node.lineno} calls .{node.func.value.attr}.{node.func.attr}()"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr in CLIENT_ATTRIBUTES
    ]
    return references + through_attribute


def test_only_the_registry_calls_the_mlflow_client() -> None:
    """Everything else asks a ``Registry`` (one client, the model's name and aliases). MLflow's fluent API
    (``mlflow.start_run``, ``mlflow.sklearn.log_model``) is no client: training logs a candidate with it
    (MLflow 3 logs a model only that way), and sets the process-wide tracking URI for it, in
    ``training/tracking.py`` alone (``tests/registry/test_registry_boundary.py``)."""
    found = sorted({hit for module in outside("registry") for hit in mlflow_client_calls(module)})

    assert not found, "MLflow client used outside covertype.registry:\n" + "\n".join(found)


def sql_constructs(module: Module) -> list[str]:
    return [
        f"{module.name}:{reference.line} uses {reference.name}"
        for reference in module.references()
        if reference.name.startswith("sqlalchemy.") and reference.name.rsplit(".", 1)[-1] in SQL_CONSTRUCTS
    ]


def sql_execution(module: Module) -> list[str]:
    """pandas' SQL readers anywhere; execute-like calls in modules holding SQLAlchemy or store objects."""
    references = list(module.references())
    readers = [
        f"{module.name}:{reference.line} calls {reference.name}()"
        for reference in references
        if reference.called and reference.name in PANDAS_SQL
    ]
    if not any(reference.name.startswith(("sqlalchemy", "covertype.store")) for reference in references):
        return readers
    return readers + [
        f"{module.name}:{line} calls .{method}()"
        for method, line in module.method_calls()
        if method in SQL_EXECUTION
    ]


@pytest.mark.parametrize(
    "finder",
    [
        pytest.param(sql_constructs, id="statement-builders"),
        pytest.param(sql_execution, id="statement-execution"),
    ],
)
def test_only_the_store_runs_sql(finder: Callable[[Module], list[str]]) -> None:
    found = sorted({hit for module in outside("store") for hit in finder(module)})

    assert not found, "SQL outside covertype.store:\n" + "\n".join(found)
