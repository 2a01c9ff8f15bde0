"""scripts/architecture_diagram.py draws the README's architecture picture without a network."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "architecture_diagram.py"


def test_diagram_is_written_as_a_png(tmp_path: Path) -> None:
    output = tmp_path / "images" / "architecture.png"

    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(output)], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(output)
    data = output.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1760, 1100)
