"""Names (and one behaviour) that moved between the Airflow 3 releases this provider supports and that
common-compat lacks.

Everything else version-dependent comes from ``airflow.providers.common.compat``; nothing outside this
module tries an import two ways. DAG files may import from here too, so that one file runs on every
supported release::

    from airflow_provider_orders.compat import CronDataIntervalTimetable
"""

from __future__ import annotations

from typing import Any

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.0: the Task SDK does not re-export the timetables yet
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

try:
    from airflow.sdk import PartitionedAssetTimetable
except ImportError:  # Airflow 3.0 and 3.1: no partitioned assets (AIP-76 came in 3.2)
    PartitionedAssetTimetable = None  # type: ignore[assignment,misc]

__all__ = ["CronDataIntervalTimetable", "PartitionedAssetTimetable", "plain_trigger_kwarg"]


def plain_trigger_kwarg(value: Any) -> Any:
    """A trigger keyword argument as the DAG file gave it.

    Airflow 3.2's triggerer hands an ``AssetWatcher``'s trigger its dict arguments still encoded, under
    stringified keys (``{"Encoding.VAR": {...}, "Encoding.TYPE": "dict"}``); Airflow 3.3 decodes them
    (``_normalize_stringified_encoding_keys``). Plain values pass through untouched.
    """
    if isinstance(value, list):
        return [plain_trigger_kwarg(v) for v in value]
    if not isinstance(value, dict):
        return value
    for var_key, type_key in (("Encoding.VAR", "Encoding.TYPE"), ("__var", "__type")):
        if set(value) == {var_key, type_key}:
            kind, var = value[type_key], value[var_key]
            if kind == "dict" and isinstance(var, dict):
                return {k: plain_trigger_kwarg(v) for k, v in var.items()}
            from airflow.serialization.serialized_objects import BaseSerialization

            return BaseSerialization.deserialize({"__type": kind, "__var": plain_trigger_kwarg(var)})
    return {k: plain_trigger_kwarg(v) for k, v in value.items()}
