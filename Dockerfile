# syntax=docker/dockerfile:1
# Every image of the project, one target each: data-api, inference-api, ui, mlflow and airflow.
# Build context: the repository root (`docker build --target data-api -t covertype-api-data .`); compose
# names the target in each service's `build:`. BuildKit builds only the stages a target needs.
#
# What they share: the pinned uv, and for the four python:3.11-slim images one build stage (uv's settings
# and the lock) and, for the three covertype services, one runtime stage (user 10001, PATH, data dir).
# Each image installs only its own extra from uv.lock, dependencies first (a layer that stays cached while
# only the source changes), then the package itself, installed (not linked) so that the final stage needs
# only /opt/venv: no uv, no source tree. Airflow shares only uv: it starts from the official Airflow image
# and installs into that image's own virtualenv.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

# ---- build base of the python:3.11-slim images: uv, its settings, the lock
FROM python:3.11-slim AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_DEV=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./

# ---- one virtualenv at /opt/venv per extra
FROM build AS build-data-api
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-install-project --no-dev --extra data-api
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --extra data-api --no-editable

FROM build AS build-inference-api
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-install-project --no-dev --extra inference
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --extra inference --no-editable
# Fail the build if a dependency ever brings back what could unpickle a model.
RUN /opt/venv/bin/python -c "import importlib.util as u, sys; \
bad = [m for m in ('sklearn', 'cloudpickle', 'mlflow') if u.find_spec(m)]; \
sys.exit(f'must not be installed: {bad}' if bad else 0)"

FROM build AS build-ui
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-install-project --no-dev --extra ui
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --extra ui --no-editable

FROM build AS build-mlflow
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-install-project --no-dev --extra mlflow-server
COPY src/ src/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --extra mlflow-server --no-editable

# ---- runtime base of the covertype services: a non-root user whose home is the data dir
FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/covertype covertype
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    COVERTYPE_DATA_DIR=/var/lib/covertype
WORKDIR /var/lib/covertype

# ---- data API: `data-api` extra. The dataset comes from a mounted file named by COVERTYPE_DATA_SOURCE
# (see docs/data-api.md).
FROM runtime AS data-api
RUN mkdir -p /data/input
COPY --from=build-data-api /opt/venv /opt/venv
# State (the SQLite schedule) and any scikit-learn download live in one volume; the dataset is read-only.
ENV COVERTYPE_STATE_PATH=/var/lib/covertype/data-api-state.sqlite \
    SCIKIT_LEARN_DATA=/var/lib/covertype/scikit-learn
VOLUME ["/var/lib/covertype"]
# The covertype user, by number (a Kubernetes runAsNonRoot check needs a numeric user).
USER 10001:10001
EXPOSE 8000
# Loading and shuffling 581,012 rows takes a few seconds; a first scikit-learn download takes longer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["covertype", "data-api", "--host", "0.0.0.0", "--port", "8000"]

# ---- inference API: `inference` extra. It serves the ONNX graph of
# models:/$COVERTYPE_MODEL_NAME@$COVERTYPE_MODEL_ALIAS with ONNX Runtime, read over the REST API of the
# MLflow server at MLFLOW_TRACKING_URI (artifacts proxied by the server), and logs predictions to
# COVERTYPE_DATABASE_URL (the data dir's SQLite file when none is given). It loads no pickle:
# scikit-learn, cloudpickle and MLflow are absent.
FROM runtime AS inference-api
COPY --from=build-inference-api /opt/venv /opt/venv
ENV TMPDIR=/var/lib/covertype/tmp
RUN install -d -o covertype -g covertype /var/lib/covertype/tmp
# The covertype user, by number (a Kubernetes runAsNonRoot check needs a numeric user).
USER 10001:10001
EXPOSE 8001
# Liveness (/health), the stack's one rule (docker-compose.yaml): the container is healthy while the
# process answers, with or without a champion. Readiness (/ready, 503 until a model is loaded) is for
# routing: the load balancer skips replicas answering 503, a Kubernetes readinessProbe asks /ready.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4)"]
CMD ["covertype", "inference-api", "--host", "0.0.0.0", "--port", "8001"]

# ---- web UI: `ui` extra (Streamlit, httpx, mlflow-skinny, SQLAlchemy). It talks to
# COVERTYPE_INFERENCE_API_URL, COVERTYPE_DATA_API_URL, COVERTYPE_DATABASE_URL and MLFLOW_TRACKING_URI;
# COVERTYPE_MLFLOW_UI_URL is where browsers open MLflow runs.
FROM runtime AS ui
COPY --from=build-ui /opt/venv /opt/venv
# HOME holds Streamlit's own settings folder; the data dir the SQLite store when no database URL is given.
ENV HOME=/var/lib/covertype
# The covertype user, by number (a Kubernetes runAsNonRoot check needs a numeric user).
USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["covertype", "ui", "--host", "0.0.0.0", "--port", "8501"]

# ---- MLflow tracking server of the stack: `mlflow-server` extra (mlflow[auth], PyMySQL for the MySQL
# backend store, boto3 for the MinIO artifact destination), so the server runs the MLflow version the
# tests ran. The package comes along for the mlflow-setup job (python -m covertype.registry.access).
# Its own user and home (not the runtime stage): /var/lib/mlflow is the mlflow-auth volume, the
# basic-auth permissions database (SQLite).
FROM python:3.11-slim AS mlflow
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/mlflow mlflow
COPY --from=build-mlflow /opt/venv /opt/venv
COPY mlflow/basic_auth.ini /etc/mlflow/basic_auth.ini
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/basic_auth.ini
VOLUME ["/var/lib/mlflow"]
# The server needs no root: metadata in MySQL, artifacts in MinIO, users and grants in the volume. The
# mlflow user by number (a Kubernetes runAsNonRoot check needs a numeric user).
USER 10001:10001
WORKDIR /var/lib/mlflow
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4)"]
CMD ["mlflow", "server", "--app-name=basic-auth", "--host=0.0.0.0", "--port=5000"]

# ---- Airflow: the official Airflow 3.3.2 image plus the covertype package with its `pipeline` and
# `airflow-celery` extras, installed with uv from uv.lock (--frozen): the Celery, Postgres and Redis
# providers too are the locked versions, so every container runs exactly what tests/deploy/topology/ ran.
FROM apache/airflow:3.3.2-python3.11 AS airflow

# LightGBM's wheel loads the system's OpenMP runtime (libgomp.so.1), which it does not vendor. The version
# is the base image's Debian release's, so it is not pinned here.
USER 0
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
# The base image's airflow user (uid 50000), numeric so a runAsNonRoot check can verify it.
USER 50000

# The image's packages live in the virtualenv $VIRTUAL_ENV (/home/airflow/.local, owned by the airflow
# user), which `uv pip install` targets. A uv as recent as the one that wrote uv.lock is copied in.
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never

# Dependencies first (a cached layer while only the source changes): the locked, hashed requirement set of
# the two extras, without the project itself and without the dev group.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md /opt/covertype/
RUN uv export --project /opt/covertype --frozen --no-dev --extra pipeline --extra airflow-celery \
        --no-emit-project \
        --output-file /tmp/requirements.txt \
    && uv pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the package itself (its dependencies are all in place already).
COPY --chown=airflow:0 src/ /opt/covertype/src/
RUN uv pip install --no-deps /opt/covertype

# The DAGs are baked into the image: `docker compose build` after changing them.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/

# Mount point of the airflow-auth volume (simple auth manager passwords); created here so that the volume
# belongs to the airflow user.
RUN mkdir -p /opt/airflow/auth
