"""Only ``covertype.store`` talks to the database: no other module imports a database library or tables."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from support.paths import REPO_ROOT

ROOT = REPO_ROOT
STORE = ROOT / "src" / "covertype" / "store"

#: Libraries that reach a database, and the store's own table definitions.
DATABASE_MODULES = ("sqlalchemy", "pymysql", "sqlite3", "covertype.store.tables")

#: Folders outside the store whose modules may import one of them, and why.
ALLOWED = {
    # The data API's schedule (one row per group) lives in its own SQLite file, not in the store:
    # the data API stands for an external service and its image carries no store code.
    ("src/covertype/data_api", "sqlite3"),
}


def _python_files() -> Iterator[Path]:
    for folder in (ROOT / "src", ROOT / "dags"):
        for path in sorted(folder.rglob("*.py")):
            if STORE not in path.parents:
                yield path


def _imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _database_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        library
        for module in _imported_modules(tree)
        for library in DATABASE_MODULES
        if module == library or module.startswith(f"{library}.")
    }


def test_no_module_outside_the_store_reaches_the_database() -> None:
    found = {
        (path.relative_to(ROOT), library) for path in _python_files() for library in _database_imports(path)
    }
    allowed = {(path, library) for path, library in found if (str(path.parent), library) in ALLOWED}

    assert found - allowed == set(), "only covertype.store may import these; add a function to the store"
    assert {(str(path.parent), library) for path, library in allowed} == ALLOWED, "an ALLOWED entry is unused"


def test_the_scan_sees_imports_inside_functions() -> None:
    tree = ast.parse(
        "def f():\n    from sqlalchemy.exc import SQLAlchemyError\n    import covertype.store.tables\n"
    )

    assert set(_imported_modules(tree)) >= {"sqlalchemy.exc.SQLAlchemyError", "covertype.store.tables"}
