"""A daily (or any cron) data-interval schedule whose runs are also partitions of their datasets.

On Airflow 3.2 an asset event's ``partition_key`` is the producing DAG run's (a task cannot name one
there), and only runs of a partitioned timetable have one. Airflow's own ``CronPartitionTimetable`` gives
runs a key but no data interval, so ``{{ data_interval_start }}`` windows and ``{{ ds }}`` paths stop
working. :class:`CronDataIntervalPartitionTimetable` keeps ``CronDataIntervalTimetable``'s intervals and
names each scheduled or backfilled run's partition after its interval's start, in the key format of
``CronPartitionTimetable`` (``%Y-%m-%dT%H:%M:%S``, UTC). On Airflow 3.3+, which accepts a run's key only
from a partition-driven timetable, it schedules exactly as ``CronDataIntervalTimetable``: there
``ListOrdersOperator`` names the same partition from the task.

Airflow finds the class through this provider's plugin (``airflow_provider_orders.plugins``), as it
finds any custom timetable. On Airflow 3.0 and 3.1, which have no partitions, it schedules exactly as
``CronDataIntervalTimetable``.

This module is imported by every Airflow process that loads plugins: it stays light.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from airflow.timetables.base import Timetable
from airflow.timetables.interval import CronDataIntervalTimetable

if TYPE_CHECKING:
    from airflow.timetables.base import DagRunInfo, TimeRestriction

#: The key format of Airflow's partition timetables, which its temporal partition mappers read.
PARTITION_KEY_FORMAT = "%Y-%m-%dT%H:%M:%S"

# Airflow 3.3+ accepts a run's partition key only from a partition-driven timetable, and lets a task name
# its events' partitions instead (``ListOrdersOperator`` does): there the runs stay unkeyed.
_TASKS_NAME_PARTITIONS = hasattr(Timetable, "partitioned_at_runtime")

__all__ = ["PARTITION_KEY_FORMAT", "CronDataIntervalPartitionTimetable", "partition_key"]


def partition_key(start: datetime | None) -> str | None:
    """A window's start as Airflow's partition timetables key a partition (UTC); ``None`` without one."""
    return None if start is None else start.astimezone(timezone.utc).strftime(PARTITION_KEY_FORMAT)


class CronDataIntervalPartitionTimetable(CronDataIntervalTimetable):
    """``CronDataIntervalTimetable`` whose scheduled and backfilled runs are the partition of their
    interval's start (Airflow 3.2+), so the asset events their tasks record are partitioned.

    ``CronDataIntervalPartitionTimetable("@daily", timezone="UTC")``: the run for 2026-01-01 has the data
    interval 2026-01-01/2026-01-02 and, on Airflow 3.2, the partition key ``2026-01-01T00:00:00`` (on
    3.3+ the task names it; 3.0 and 3.1 have no partitions). Manual runs keep the
    key they are triggered with (none by default), as with any timetable.

    It is not a partition-*driven* timetable (``partitioned`` stays ``False``): it is scheduled by its
    cron expression, and DAGs scheduled on its assets by ``PartitionedAssetTimetable`` receive its
    partitions.

    :param cron: a cron expression or preset such as ``@daily``.
    :param timezone: the time zone the expression is read in.
    """

    def next_dagrun_info_v2(
        self, *, last_dagrun_info: DagRunInfo | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        info = super().next_dagrun_info_v2(last_dagrun_info=last_dagrun_info, restriction=restriction)
        if info is None or info.data_interval is None or _TASKS_NAME_PARTITIONS:
            return info
        start = info.data_interval.start
        return info._replace(partition_date=start, partition_key=partition_key(start))
