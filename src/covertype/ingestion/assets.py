"""The Airflow asset between the two DAGs: ``covertype_ingest`` updates it, ``covertype_train`` runs on it.

This module imports Airflow, so only DAG code imports it (the API and UI images carry no Airflow).
"""

from __future__ import annotations

from airflow.sdk import Asset

#: Updated (with the poll's counts as metadata) each time a poll stores new rows.
covertype_raw = Asset("covertype_raw")
