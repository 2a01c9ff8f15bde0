"""What only Airflow runs: the asset between the two DAGs and the ingest DAG's window sensor.

Every module here imports Airflow, so only the DAG files (in the Airflow image) import this package; the
functions the tasks call live in the pipeline packages (``ingestion``, ``training``, ``monitoring``), which
import no Airflow.
"""

from covertype.orchestration.assets import covertype_raw
from covertype.orchestration.window_sensor import RESUME_LEAD, WaitForBatchWindow

__all__ = ["RESUME_LEAD", "WaitForBatchWindow", "covertype_raw"]
