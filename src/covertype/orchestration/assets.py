"""The Airflow asset between the two DAGs: ``covertype_ingest`` updates it, ``covertype_train`` runs on it."""

from __future__ import annotations

from airflow.sdk import Asset

#: Updated (with the poll's counts as metadata) each time a poll stored new rows and the champion scored them.
covertype_raw = Asset("covertype_raw")
