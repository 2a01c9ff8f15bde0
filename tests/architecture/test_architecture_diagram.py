"""scripts/architecture_diagram.py draws the README's architecture picture without a network: the compose
stack above, the package's import layers (scripts/package_imports.py, an ast scan) below."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from support.paths import REPO_ROOT

SCRIPTS = REPO_ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))
from package_imports import describe, find_cycle, layers, package_graph  # noqa: E402

SCRIPT = SCRIPTS / "architecture_diagram.py"
README_PICTURE = SCRIPTS.parent / "images" / "architecture.png"


def draw(output: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(output), *options],
        capture_output=True,
        text=True,
        timeout=120,
    )


def png_texts(data: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG (keyword -> text), where matplotlib writes the ``metadata`` it is given."""
    texts, offset = {}, 8
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset : offset + 4]), data[offset + 4 : offset + 8]
        if kind == b"tEXt":
            keyword, _, text = data[offset + 8 : offset + 8 + length].partition(b"\0")
            texts[keyword.decode("latin-1")] = text.decode("latin-1")
        offset += 12 + length
    return texts


def fake_package(root: Path, files: dict[str, str]) -> Path:
    """A ``covertype`` package under `root` made of `files` (relative path -> source)."""
    package = root / "covertype"
    for name, text in {"__init__.py": "", **files}.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


def test_diagram_is_written_as_a_png(tmp_path: Path) -> None:
    output = tmp_path / "images" / "architecture.png"

    done = draw(output)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(output)
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1760, 1980)


def test_the_readme_picture_shows_the_current_imports() -> None:
    drawn = png_texts(README_PICTURE.read_bytes()).get("Description")

    assert drawn == describe(package_graph()), (
        "images/architecture.png shows other imports than src/covertype has: "
        "uv run python scripts/architecture_diagram.py"
    )


def test_an_import_cycle_is_named_and_fails_the_drawing(tmp_path: Path) -> None:
    source = fake_package(
        tmp_path,
        {
            "settings.py": "",
            "store/__init__.py": "",
            "store/reads.py": "from covertype.settings import Settings\nfrom covertype.training import x\n",
            "training/__init__.py": "def x() -> None:\n    from ..store.reads import y\n",
        },
    )
    output = tmp_path / "architecture.png"

    done = draw(output, "--source", str(source))

    assert done.returncode == 1
    assert "import cycle: store -> training -> store" in done.stderr
    assert not output.exists()


def test_layers_are_the_longest_import_path_down(tmp_path: Path) -> None:
    source = fake_package(
        tmp_path,
        {
            "schema.py": "",
            "settings.py": "",
            "store/__init__.py": "from covertype import schema\n",
            "store/engine.py": "import covertype.settings\n",
            "training/__init__.py": "from covertype.store import engine\nfrom ..schema import COLUMNS\n",
            "cli.py": "from covertype.training import run\nfrom covertype.settings import get_settings\n",
        },
    )

    graph = package_graph(source)

    assert graph == {
        "schema": set(),
        "settings": set(),
        "store": {"schema", "settings"},
        "training": {"store", "schema"},
        "cli": {"training", "settings"},
    }
    assert find_cycle(graph) is None
    assert layers(graph) == {"cli": 3, "schema": 0, "settings": 0, "store": 1, "training": 2}
