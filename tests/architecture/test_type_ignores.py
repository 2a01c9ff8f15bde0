"""The type checker's exceptions are few and explained: each ``type: ignore`` names its error codes and says
why on the same line (``# type: ignore[code]  # reason``); mypy's strict mode (``warn_unused_ignores``)
already fails on one that is no longer needed."""

from __future__ import annotations

import re

from support.paths import REPO_ROOT

IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[^\]]+\])?(?P<rest>.*)$")
REASON = re.compile(r"^\s+#\s*\S.{3,}")


def ignores_without_reason(text: str, name: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = IGNORE.search(line)
        if match and not (match["codes"] and REASON.match(match["rest"])):
            found.append(f"{name}:{number}: {line.strip()}")
    return found


def test_the_check_sees_a_bare_ignore_and_accepts_an_explained_one() -> None:
    bare = "x = f()  # type: ignore[arg-type]\ny = g()  # type: ignore\n"
    explained = "x = f()  # type: ignore[arg-type]  # the library types it too narrowly\n"

    assert len(ignores_without_reason(bare, "m.py")) == 2
    assert ignores_without_reason(explained, "m.py") == []


def test_every_type_ignore_names_its_codes_and_its_reason() -> None:
    files = [
        *sorted((REPO_ROOT / "src" / "covertype").rglob("*.py")),
        *sorted((REPO_ROOT / "dags").glob("*.py")),
    ]
    found = [
        hit
        for path in files
        for hit in ignores_without_reason(path.read_text(), str(path.relative_to(REPO_ROOT)))
    ]

    assert len(files) > 100
    assert not found, "a type: ignore without its error code or its reason:\n" + "\n".join(found)
