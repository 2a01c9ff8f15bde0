"""docker-compose.yaml read as ``docker compose config`` reads it: YAML, then ``${VAR}`` interpolation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from support.paths import REPO_ROOT

COMPOSE_PATH = REPO_ROOT / "docker-compose.yaml"
ENV_EXAMPLE_PATH = REPO_ROOT / ".env.example"
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|FERNET_KEY)")

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, ${NAME:+alt}, ${NAME+alt}
BRACED = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
UNBRACED = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset or empty."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Substitute variables the way docker compose does (the forms this project uses, no nesting).

    `$$` is compose's escape for a literal `$` (a variable the container's shell expands, not compose).
    """

    def braced(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name)
        if op is None:
            return value or ""
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op == ":+":
            return arg if value else ""
        return "" if value is None else arg  # "+"

    def substitute(piece: str) -> str:
        return UNBRACED.sub(lambda m: env.get(m["name"], ""), BRACED.sub(braced, piece))

    return "$".join(substitute(piece) for piece in text.split("$$"))


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    """Interpolate every string value of parsed YAML, as compose does after parsing (values stay strings)."""
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


def string_values(node: Any) -> list[str]:
    """Every string value of parsed YAML (keys and comments are not interpolated by compose)."""
    if isinstance(node, dict):
        return [text for value in node.values() for text in string_values(value)]
    if isinstance(node, list):
        return [text for value in node for text in string_values(value)]
    return [node] if isinstance(node, str) else []


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines of an env file; comments and blank lines skipped, values taken literally."""
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        assert sep, f"{path.name} line {number}: expected KEY=value, got {line!r}"
        env[key.strip()] = value.strip()
    return env
