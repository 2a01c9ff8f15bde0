"""The registry package is the one home of MLflow's registry: one client factory, no process-wide URIs."""

from __future__ import annotations

import ast
import subprocess
import sys

from support.paths import REPO_ROOT

ROOT = REPO_ROOT
#: The one module that logs runs with MLflow's fluent API, which only knows the process-wide tracking URI
#: (MLflow 3 logs a model, as a logged model, only through it): it sets that URI while it logs a candidate.
FLUENT_RUN_LOGGING = ROOT / "src" / "covertype" / "training" / "tracking.py"


def _calls(name: str) -> list[str]:
    """``file:line`` of every call of ``name`` (``name(...)``, ``x.name(...)``) in src/ and dags/."""
    found = []
    for path in sorted([*(ROOT / "src").rglob("*.py"), *(ROOT / "dags").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_code_changes_the_process_wide_registry_uri() -> None:
    assert _calls("set_registry_uri") == []
    tracking = {call.rsplit(":", 1)[0] for call in _calls("set_tracking_uri")}
    assert tracking <= {str(FLUENT_RUN_LOGGING.relative_to(ROOT))}, tracking


def test_the_tags_and_the_rest_reader_import_without_mlflow() -> None:
    """The inference extra has no MLflow: the package, its tags and its REST reader must not import it."""
    code = (
        "import sys\n"
        "sys.modules['mlflow'] = None\n"
        "import covertype.registry, covertype.registry.tags, covertype.registry.reader\n"
        "import covertype.inference.model_holder\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
