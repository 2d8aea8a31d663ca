"""Names that moved between the Airflow 3 releases this provider supports and that common-compat lacks.

Everything else version-dependent comes from ``airflow.providers.common.compat``; nothing outside this
module tries an import two ways. DAG files may import from here too, so that one file runs on every
supported release::

    from airflow_provider_orders.compat import CronDataIntervalTimetable
"""

from __future__ import annotations

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.0: the Task SDK does not re-export the timetables yet
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

__all__ = ["CronDataIntervalTimetable"]
