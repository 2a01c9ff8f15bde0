"""Security properties, checked on the real things: database rights, tracked files, MLflow's host check,
the inference API's token, the images' users and the dependency audit's verdicts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from covertype.inference.app import create_app
from covertype.processes import Service, unused_port
from covertype.store.batches import RunStatus, record_run, utc_now
from covertype.store.engine import create_store_engine
from support.dockerfile import TARGETS, final_user
from support.inference import registry_settings
from support.mysql_init import TRICKY_PASSWORD, Names
from support.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from audit_report import judge  # noqa: E402

# -- least privilege ------------------------------------------------------------------------------------


def _pipeline_engine(names: Names) -> Engine:
    url = URL.create(
        "mysql+pymysql", username=names.covertype_user, password=TRICKY_PASSWORD,
        host="127.0.0.1", port=3306, database=names.covertype_db,
    )  # fmt: skip
    return create_store_engine(url)


@pytest.mark.mariadb
def test_the_pipeline_user_reads_and_writes_rows_but_cannot_change_or_drop_tables(
    initialised: Names,
) -> None:
    engine = _pipeline_engine(initialised)
    try:
        with engine.begin() as connection:  # what ingestion writes, the way it writes it
            now = utc_now()
            record_run(
                connection, run_id="security", group_number=1, batch_number=1, status=RunStatus.SUCCESS,
                started_at=now, finished_at=now,
            )  # fmt: skip
        with engine.connect() as connection:
            count = "SELECT COUNT(*) FROM ingestion_runs WHERE run_id = 'security'"
            assert connection.exec_driver_sql(count).scalar() == 1
        denied = [
            "DROP TABLE forest_cover_data",
            "ALTER TABLE forest_cover_data ADD COLUMN intruder INT",
            "TRUNCATE TABLE ingestion_runs",
            "CREATE TABLE intruder (id INT)",
            f"DROP DATABASE `{initialised.covertype_db}`",
            f"GRANT SELECT ON `{initialised.covertype_db}`.* TO '{initialised.mlflow_user}'@'%'",
        ]
        for statement in denied:
            with engine.connect() as connection, pytest.raises(DBAPIError, match=r"denied"):
                connection.execute(text(statement))
        assert "forest_cover_data" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


# -- no secret in the repository ------------------------------------------------------------------------

#: Where credentials may appear: the placeholder file users copy, and the tests' throw-away values.
ALLOWED = re.compile(r"^(\.env\.example|tests/.*)$")

CREDENTIALS = {
    "AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "password literal": re.compile(
        r"""(?i)(password|passwd|secret|access_key|token)\w*["']?\s*[:=]\s*["'][^"'\s${}<>]{4,}["']"""
    ),
    "URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?![$<{*])[^/\s@'\"]+@"),
}


def find_credentials(text: str) -> list[str]:
    return [kind for kind, pattern in CREDENTIALS.items() if pattern.search(text)]


@pytest.mark.parametrize(
    "planted",
    [
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        'password = "' + 'hunter22"',
        "MINIO_SECRET_KEY: '" + "s3cr3t-value'",
        "mysql+pymysql://covertype:" + "hunter2@mysql:3306/covertype",
    ],
)
def test_the_scan_finds_planted_credentials(planted: str) -> None:
    assert find_credentials(f"some text\n{planted}\nmore text")


def test_no_tracked_file_holds_a_credential() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    findings = []
    scanned = 0
    for name in filter(None, tracked):
        path = REPO_ROOT / name
        if ALLOWED.match(name) or not path.is_file():
            continue
        text = path.read_bytes()[:1_000_000].decode("utf-8", errors="ignore")
        scanned += 1
        findings += [f"{name}: {kind}" for kind in find_credentials(text)]
    assert scanned > 50
    assert not findings, findings


# -- MLflow only answers the hosts it is configured for -----------------------------------------------


def _compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yaml").read_text())


def test_the_compose_mlflow_server_restricts_hosts_and_origins() -> None:
    command = " ".join(_compose()["services"]["mlflow"]["command"])
    assert re.search(r"--allowed-hosts[= ]\$\{MLFLOW_ALLOWED_HOSTS:\?", command), command
    assert re.search(r"--cors-allowed-origins[= ]\$\{MLFLOW_CORS_ALLOWED_ORIGINS:\?", command), command
    example = (REPO_ROOT / ".env.example").read_text()
    hosts = re.search(r"^MLFLOW_ALLOWED_HOSTS=(.*)$", example, re.M)
    origins = re.search(r"^MLFLOW_CORS_ALLOWED_ORIGINS=(.*)$", example, re.M)
    assert hosts and origins
    assert "*" not in hosts.group(1).split(",")
    assert "*" not in origins.group(1).split(",")


@pytest.mark.slow
def test_an_mlflow_server_refuses_a_foreign_host_header(tmp_path: Path) -> None:
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    server = Service(
        "mlflow",
        [str(bin_dir / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--allowed-hosts", f"127.0.0.1:{port}", "--cors-allowed-origins", f"http://127.0.0.1:{port}"],
        f"{url}/health",
        port,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}"},
        log_path=tmp_path / "mlflow.log",
    )  # fmt: skip
    with server:
        api = "/api/2.0/mlflow/experiments/search?max_results=1"
        # generous timeouts: the first requests of a fresh server are slow on a busy machine
        own = httpx.get(f"{url}{api}", timeout=60)
        foreign = httpx.get(f"{url}{api}", headers={"Host": "attacker.example"}, timeout=60)
        cross_origin = httpx.post(
            f"{url}/api/2.0/mlflow/experiments/create",
            json={"name": "intruder"},
            headers={"Origin": "http://attacker.example", "Content-Type": "application/json"},
            timeout=60,
        )
    assert own.status_code == 200
    assert foreign.status_code in (400, 403), foreign.text
    assert cross_origin.status_code in (400, 403), cross_origin.text


# -- MLflow's built-in authentication: who may move the champion alias ---------------------------------


@pytest.mark.slow
def test_mlflow_basic_auth_lets_only_the_training_and_operator_users_move_the_alias_and_admins_read_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped auth config and covertype.registry.access on a real `mlflow server --app-name basic-auth`
    (SQLite stores here; tests/deploy/topology/ runs it with compose's MariaDB backend)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from covertype.registry.access import Account, provision
    from covertype.settings import Settings

    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(
        (REPO_ROOT / "mlflow" / "basic_auth.ini").read_text().replace("/var/lib/mlflow", str(tmp_path))
    )
    bin_dir = Path(sys.executable).parent
    admin = ("admin", "admin-password-for-this-test")
    server = Service(
        "mlflow",
        [str(bin_dir / "mlflow"), "server", "--app-name=basic-auth", "--backend-store-uri",
         f"sqlite:///{tmp_path / 'mlflow.db'}", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         f"--expose-prometheus={tmp_path / 'prometheus'}"],
        f"{url}/health",
        port,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "MLFLOW_AUTH_CONFIG_PATH": str(ini),
             "MLFLOW_FLASK_SERVER_SECRET_KEY": "a-secret-for-this-test",
             "MLFLOW_AUTH_ADMIN_USERNAME": admin[0], "MLFLOW_AUTH_ADMIN_PASSWORD": admin[1],
             "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        log_path=tmp_path / "mlflow.log",
        start_timeout=180,
    )  # fmt: skip
    settings = Settings(mlflow_tracking_uri=url, data_dir=tmp_path)
    accounts = [
        Account("training", "t-user", "training-password-1", "EDIT", "EDIT"),
        Account("operator", "o-user", "operator-password-1", "READ", "EDIT"),
        Account("reader", "r-user", "reader-password-1", "READ", "READ"),
    ]

    def as_user(username: str, password: str) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        return MlflowClient(tracking_uri=url, registry_uri=url)

    with server:
        as_user(*admin)
        experiment_id = provision(settings, accounts)
        # Again, with a new reader password: safe to re-run, and the password follows the environment.
        accounts[2] = Account("reader", "r-user", "reader-password-2", "READ", "READ")
        assert provision(settings, accounts) == experiment_id
        training = as_user("t-user", "training-password-1")
        run = training.create_run(experiment_id)
        version = training.create_model_version(
            "covertype", f"runs:/{run.info.run_id}/model", run.info.run_id
        )
        training.set_registered_model_alias("covertype", "champion", version.version)

        reader = as_user("r-user", "reader-password-2")
        assert reader.get_model_version_by_alias("covertype", "champion").version == version.version
        denied = {
            "move the alias": lambda: reader.set_registered_model_alias("covertype", "champion", "1"),
            "delete the alias": lambda: reader.delete_registered_model_alias("covertype", "champion"),
            "create a version": lambda: reader.create_model_version(
                "covertype", "runs:/x/model", run.info.run_id
            ),
            "start a run": lambda: reader.create_run(experiment_id),
        }
        for what, attempt in denied.items():
            with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
                attempt()
                pytest.fail(f"the reader could {what}")
        get_model = f"{url}/api/2.0/mlflow/registered-models/get?name=covertype"
        old_password = httpx.get(get_model, auth=("r-user", "reader-password-1"), timeout=60)
        anonymous = httpx.get(get_model, timeout=60)
        assert (old_password.status_code, anonymous.status_code) == (401, 401)

        operator = as_user("o-user", "operator-password-1")
        operator.set_registered_model_alias("covertype", "champion", version.version)  # roll back is allowed
        with pytest.raises(MlflowException, match="PERMISSION_DENIED|Permission denied"):
            operator.create_run(experiment_id)

        # /metrics (--expose-prometheus): basic-auth guards it, and being fail-closed on a route no
        # permission rule names, it serves only an admin: Prometheus scrapes as the admin.
        metrics = {
            who: httpx.get(f"{url}/metrics", auth=auth, timeout=60)
            for who, auth in {
                "anonymous": None,
                "reader": ("r-user", "reader-password-2"),
                "admin": admin,
            }.items()
        }
        assert {who: answer.status_code for who, answer in metrics.items()} == {
            "anonymous": 401,
            "reader": 403,
            "admin": 200,
        }
        assert "mlflow_http_request_total" in metrics["admin"].text


# -- the inference API's write operation needs the token when one is set --------------------------------


def test_model_reload_requires_the_token_when_one_is_configured(tmp_path: Path) -> None:
    settings = registry_settings(tmp_path, api_token="a-long-random-token")
    with TestClient(create_app(settings)) as client:
        missing = client.post("/model/reload")
        wrong = client.post("/model/reload", headers={"Authorization": "Bearer not-the-token"})
        basic = client.post("/model/reload", headers={"Authorization": "Basic YTpi"})
        right = client.post("/model/reload", headers={"Authorization": "Bearer a-long-random-token"})
    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing.headers["www-authenticate"] == "Bearer"
    # past the token check: the empty registry has no model, the documented 503 (not 401)
    assert right.status_code == 503, right.text
    assert right.json()["detail"].startswith("reload of covertype@champion failed")


# -- containers run as non-root ---------------------------------------------------------------------------

ROOT = {"root", "0"}

#: Base images whose default user is not root (a Dockerfile on them need not say USER again).
NON_ROOT_BASES = {"apache/airflow": "airflow"}


@pytest.mark.parametrize("target", TARGETS)
def test_every_image_runs_as_a_non_root_user(target: str) -> None:
    user = final_user(target, NON_ROOT_BASES)
    assert user.split(":")[0] not in ROOT, f"the Dockerfile's {target} target runs as {user}"


def test_no_compose_service_runs_as_root() -> None:
    services = _compose()["services"]
    as_root = [
        name for name, service in services.items() if str(service.get("user", "")).split(":")[0] in ROOT
    ]
    assert not as_root


# -- the dependency audit's verdicts ------------------------------------------------------------------


def _dependency(name: str, *vulns: tuple[str, list[str]]) -> dict:
    return {"name": name, "version": "1.0", "vulns": [{"id": i, "fix_versions": fixes} for i, fixes in vulns]}


def test_the_audit_fails_only_on_vulnerabilities_with_a_fix() -> None:
    clean = {"dependencies": [_dependency("a"), _dependency("b", ("GHSA-1", []))]}
    fixable = {"dependencies": [_dependency("a"), _dependency("b", ("GHSA-2", ["1.1"]))]}
    assert judge(clean, "", 1).status == 0
    assert any("GHSA-1" in line and "WARNING" in line for line in judge(clean, "", 1).lines)
    verdict = judge(fixable, "", 1)
    assert verdict.status == 1
    assert any("b 1.0: GHSA-2 (fixed in 1.1)" in line for line in verdict.lines)


def test_the_audit_passes_with_a_warning_only_when_the_service_is_unreachable() -> None:
    skipped = {"dependencies": [{"name": "a", "skip_reason": "Dependency not found on PyPI"}]}
    for verdict in (
        judge(skipped, "", 0),
        judge(None, "requests.exceptions.ConnectionError: Max retries exceeded", 1),
    ):
        assert verdict.status == 0
        assert "NOT DONE" in verdict.lines[0]
    assert judge(None, "pip-audit: error: unrecognized arguments", 2).status == 1
