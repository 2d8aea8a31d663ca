"""The provider's Airflow plugin: how the scheduler, the API server and the DAG processor find
:class:`~airflow_provider_orders.timetables.CronDataIntervalPartitionTimetable` (Airflow reads a custom
timetable only from a registered plugin). Its ``airflow.plugins`` entry point loads it in every Airflow
process: installing the package is enough."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_orders.timetables import CronDataIntervalPartitionTimetable


class OrdersPlugin(AirflowPlugin):
    """Registers the provider's timetable."""

    name = "orders"
    timetables = [CronDataIntervalPartitionTimetable]
