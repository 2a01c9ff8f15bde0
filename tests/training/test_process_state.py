"""Training leaves no process-wide MLflow state behind that a later training of the same process relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import REPO_ROOT

#: Two trainings in one fresh interpreter, the second one re-scoring the first one's champion.
SCRIPT = """
import json, sys
from pathlib import Path
from covertype.dataset import load_dataset
from covertype.settings import Settings
from support.inference import train_version

frame = load_dataset(sys.argv[1]).sample(3000, random_state=1)
settings = Settings(data_dir=Path(sys.argv[2]), promotion_margin=0.0)
first = train_version(settings, frame.iloc[:1500], candidates="logreg")
second = train_version(settings, frame, candidates="logreg")
print(json.dumps([first["promotion"], second["promotion"]]))
"""


@pytest.mark.slow
def test_a_second_training_in_one_process_rescores_the_champion(sample_csv: Path, tmp_path: Path) -> None:
    # No MLFLOW_TRACKING_URI: the settings' store is reached through explicit URIs only (found by the
    # shift benchmark: a models:/ download went through the process-wide registry URI).
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = str(REPO_ROOT / "tests")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(sample_csv), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]

    first, second = json.loads(done.stdout.strip().splitlines()[-1])
    assert first["promoted"] and first["version"] == "1"
    assert second["champion_version"] == "1", second
    assert second["champion_accuracy"] is not None, second
