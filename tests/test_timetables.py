"""``CronDataIntervalPartitionTimetable``: the daily export's schedule, whose runs are the partitions of
their days where Airflow takes an event's partition from its run (3.2)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_orders.timetables import CronDataIntervalPartitionTimetable, partition_key
from tests.conftest import AIRFLOW_RELEASE


def test_a_windows_start_is_keyed_as_airflows_partition_timetables_key_it() -> None:
    assert partition_key(datetime(2026, 1, 1, tzinfo=timezone.utc)) == "2026-01-01T00:00:00"
    # Read in UTC whatever the window's zone: 01:30 in Paris is the previous day's 00:30 UTC.
    from zoneinfo import ZoneInfo

    paris = datetime(2026, 1, 1, 1, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert partition_key(paris) == "2026-01-01T00:30:00"
    assert partition_key(None) is None


def test_each_scheduled_day_is_its_own_interval_and_on_3_2_the_partition_of_its_start() -> None:
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalPartitionTimetable("@daily", timezone="UTC")
    assert isinstance(timetable, CronDataIntervalTimetable)
    restriction = TimeRestriction(
        earliest=datetime(2025, 12, 29, tzinfo=timezone.utc), latest=None, catchup=True
    )
    if AIRFLOW_RELEASE < (3, 2):  # no partitions: the intervals of CronDataIntervalTimetable
        first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
        second = timetable.next_dagrun_info(
            last_automated_data_interval=first.data_interval, restriction=restriction
        )
    else:
        first = timetable.next_dagrun_info_v2(last_dagrun_info=None, restriction=restriction)
        second = timetable.next_dagrun_info_v2(last_dagrun_info=first, restriction=restriction)
    days = [info.data_interval for info in (first, second)]
    assert [(d.start.isoformat(), d.end.isoformat()) for d in days] == [
        ("2025-12-29T00:00:00+00:00", "2025-12-30T00:00:00+00:00"),
        ("2025-12-30T00:00:00+00:00", "2025-12-31T00:00:00+00:00"),
    ]
    if AIRFLOW_RELEASE < (3, 2):
        assert "partition_key" not in first._fields
    elif AIRFLOW_RELEASE == (3, 2):
        assert [info.partition_key for info in (first, second)] == [
            "2025-12-29T00:00:00",
            "2025-12-30T00:00:00",
        ]
        assert [info.partition_date for info in (first, second)] == [d.start for d in days]
    else:  # 3.3+ keys a run only from a partition-driven timetable; the task names the partition
        assert [info.partition_key for info in (first, second)] == [None, None]


def test_airflow_serializes_the_timetable_through_the_providers_plugin() -> None:
    """The scheduler and the API server read a DAG's timetable back from its serialized form: a custom
    class only when a plugin registers it (the package's ``airflow.plugins`` entry point)."""
    try:
        from airflow.serialization.decoders import decode_timetable
        from airflow.serialization.encoders import encode_timetable
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.serialization.serialized_objects import decode_timetable, encode_timetable

    timetable = CronDataIntervalPartitionTimetable("0 6 * * *", timezone="Europe/Paris")
    decoded = decode_timetable(encode_timetable(timetable))
    assert type(decoded) is CronDataIntervalPartitionTimetable
    assert decoded == timetable
