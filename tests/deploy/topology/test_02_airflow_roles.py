"""Stage 2: Airflow's FAB auth manager, as compose configures it, gives each login what its role allows.

Real HTTP against the api-server: the viewer (the web UI's login) reads DAG runs but is refused triggering
or clearing one; the operator triggers and clears; an anonymous request is refused everything. Re-running
airflow-init after a password change in .env succeeds and sets the new password.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from covertype.settings import Settings
from covertype.ui.api_client import dag_runs
from support.topology import Topology, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]

#: Continuous, one run at a time: a triggered run waits its turn and stores nothing twice.
DAG = "covertype_ingest"


def test_fab_roles_allow_the_viewer_to_read_and_the_operator_to_trigger(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = topology.dotenv
    with topology.stages.stage("FAB roles: viewer, operator, anonymous; airflow-init again"):
        viewer = topology.airflow_client(dotenv["AIRFLOW_VIEWER_USER"], dotenv["AIRFLOW_VIEWER_PASSWORD"])
        operator = topology.airflow_client(
            dotenv["AIRFLOW_OPERATOR_USER"], dotenv["AIRFLOW_OPERATOR_PASSWORD"]
        )
        anonymous = topology.airflow_client()
        runs = f"/dags/{DAG}/dagRuns"

        def listed() -> int | None:
            answer = viewer.get(runs)
            assert answer.status_code in (200, 404), answer.text  # 404 until the DAG is parsed
            if answer.status_code == 404:
                return None
            return answer.json()["total_entries"] or None

        wait_for(listed, timeout=300, what=f"the viewer listing a run of {DAG}")
        refused = viewer.post(runs, json={"logical_date": None})
        assert refused.status_code == 403, refused.text

        triggered = operator.post(
            runs, json={"logical_date": None, "note": "topology: the operator's trigger"}
        )
        assert triggered.status_code == 200, triggered.text
        run_id = triggered.json()["dag_run_id"]
        assert viewer.post(f"{runs}/{run_id}/clear", json={"dry_run": False}).status_code == 403
        cleared = operator.post(f"{runs}/{run_id}/clear", json={"dry_run": False})
        assert cleared.status_code == 200, cleared.text

        assert anonymous.get(runs).status_code == 401
        assert anonymous.post(runs, json={"logical_date": None}).status_code in (401, 403)
        assert viewer.get(f"{runs}/{run_id}").json()["triggered_by"] == "rest_api"

        # A password changed in .env: airflow-init runs again (idempotent) and sets it.
        old_password = dotenv["AIRFLOW_VIEWER_PASSWORD"]
        topology.edit_dotenv(AIRFLOW_VIEWER_PASSWORD=secrets.token_urlsafe(18))
        output = topology.airflow_init()
        for key in ("ADMIN", "OPERATOR", "VIEWER"):
            assert f"Airflow user '{dotenv[f'AIRFLOW_{key}_USER']}' exists" in output, output
        topology.airflow_client(dotenv["AIRFLOW_VIEWER_USER"], dotenv["AIRFLOW_VIEWER_PASSWORD"])
        login = {"username": dotenv["AIRFLOW_VIEWER_USER"], "password": old_password}
        stale = httpx.post(f"{topology.url('airflow-apiserver')}/auth/token", json=login, timeout=60)
        assert stale.status_code == 401, stale.text

        # The web UI's Pipeline page reads the runs with the ui service's login (the viewer) through FAB.
        ui = topology.environment("ui")
        assert ui["COVERTYPE_AIRFLOW_USERNAME"] == dotenv["AIRFLOW_VIEWER_USER"]
        for key in ("COVERTYPE_AIRFLOW_API_URL", "COVERTYPE_AIRFLOW_USERNAME", "COVERTYPE_AIRFLOW_PASSWORD"):
            monkeypatch.setenv(key, ui[key])
        shown = dag_runs(Settings(), ["covertype_ingest", "covertype_train"])
        assert {run["dag_id"] for run in shown} == {"covertype_ingest", "covertype_train"}
