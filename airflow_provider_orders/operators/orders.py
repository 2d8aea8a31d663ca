"""``ListOrdersOperator``: list a vendor's orders into XCom, or stream them into object storage."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    Asset,
    AssetAlias,
    BaseOperator,
)
from airflow.providers.common.compat.version_compat import AIRFLOW_V_3_2_PLUS

from airflow_provider_orders.errors import OrdersError
from airflow_provider_orders.hooks.resolve import conn_type_if_known, get_orders_hook, hook_class_for
from airflow_provider_orders.operators.writers import FORMATS
from airflow_provider_orders.timetables import partition_key

if TYPE_CHECKING:
    from airflow_provider_orders.hooks.base import OrdersHook
    from airflow_provider_orders.vendors.filters import OrderFilters

PROGRESS_EVERY_SECONDS = 10.0


class ListOrdersOperator(BaseOperator):
    """Lists every order matching ``filters`` at the vendor of ``conn_id``: every page, every filter.

    Without ``output_path`` the orders are returned to XCom as JSON dicts; above ``max_xcom_orders`` the
    task fails and asks for an ``output_path``: it never truncates. With ``output_path`` the orders are
    streamed page by page into that file (memory stays flat however many there are), written under a
    hidden temporary name and moved into place only when complete, so readers never see a partial file.

    **Assets.** The output is one Asset per dataset, not one per file: its URI is the output location
    without the run's window (the template expressions taken out of ``output_path``, so
    ``file:///data/{{ ds }}/crayon.jsonl`` is ``file:///data/crayon.jsonl``), or ``asset`` when given. It is
    the task's outlet, so the task shows as its producer. Each run records one event on it whose extra
    holds ``count``, ``format``, ``vendor``, ``window`` (the listing's ISO 8601 interval) and ``uri`` (the
    file written). On Airflow 3.3+ the event of a listing with a window start (an incremental export) also
    carries a ``partition_key``: the window's start as ``%Y-%m-%dT%H:%M:%S`` in UTC (the key format of
    Airflow's ``CronPartitionTimetable``, which temporal partition mappers read), or the DAG run's own
    partition key when the run has one. Airflow queues a partitioned event for partition-scheduled DAGs
    (``PartitionedAssetTimetable``) only, and a plain one for ``schedule=[asset]`` DAGs only: set
    ``partition=False`` where the consumers are plain. On 3.2 Airflow takes the partition key from the DAG
    run only (a task cannot name one there): schedule the DAG with
    :class:`~airflow_provider_orders.timetables.CronDataIntervalPartitionTimetable`, whose scheduled and
    backfilled runs are the partition of their interval's start; events of other runs carry the window in
    their extra only, as on 3.0 and 3.1. On 3.0 and 3.1 the Asset is recorded through an AssetAlias
    ``orders:<task_id>`` (their ``dag.test()`` does not register a DAG's outlet Assets), so the Assets view
    shows the producing task from 3.2 on.

    :param conn_id: an Airflow connection of one of this provider's types; the hook follows from its type.
        (templated)
    :param filters: the vendor hook's filters, for example
        ``{"customer_tenant_id": 1001, "created_since": "{{ data_interval_start }}"}``. Validated when the
        DAG is parsed (where the connection is known then) and again after templating. (templated)
    :param output_path: an ``ObjectStoragePath`` or URI such as ``file:///data/orders.jsonl`` or
        ``s3://aws_default@bucket/orders/{{ ds }}.jsonl``. (templated)
    :param format: ``jsonl`` (one ``Order`` per line, default), ``csv`` (the normalised fields) or
        ``parquet`` (needs the ``parquet`` extra).
    :param max_xcom_orders: the most orders returned through XCom when there is no ``output_path``.
    :param csv_escape_formulas: with ``format="csv"``, prefix ``'`` to cells that a spreadsheet would run as
        a formula (starting with ``= + - @``, a tab or a CR; numbers excepted). Default on.
    :param asset: the dataset's Asset (an ``Asset`` or a URI) instead of the one derived from
        ``output_path``; needed where the template is in the bucket or host.
    :param partition: on Airflow 3.3+, name each event's partition after the listing's window (default);
        ``False`` records plain events, for consumers scheduled with ``schedule=[asset]``.
    :param asset_alias: record each file as an Asset of its own through an AssetAlias of this name (the
        behaviour before 0.2: one Asset per file). Default: none, one Asset per dataset.
    :return: without ``output_path`` the orders as JSON dicts; with it
        ``{"uri", "count", "format", "vendor"}``.
    """

    template_fields: Sequence[str] = ("conn_id", "filters", "output_path")
    template_fields_renderers = {"filters": "json"}
    ui_color = "#e8f4e8"

    def __init__(
        self,
        *,
        conn_id: str,
        filters: dict[str, Any] | None = None,
        output_path: Any = None,
        format: str = "jsonl",
        max_xcom_orders: int = 1000,
        asset: Any = None,
        partition: bool = True,
        asset_alias: str | None = None,
        csv_escape_formulas: bool = True,
        **kwargs: Any,
    ) -> None:
        if format not in FORMATS:
            raise AirflowException(f"ListOrdersOperator: format {format!r} is not one of {list(FORMATS)}")
        if max_xcom_orders < 0:
            raise AirflowException("ListOrdersOperator: max_xcom_orders must be 0 or more")
        static_path = output_path is not None and "{{" not in str(output_path)
        if static_path and isinstance(output_path, str):
            output_path = _absolute(output_path)
        if static_path:
            _check_filesystem(str(output_path))
        #: Airflow 3.0 and 3.1 record the dataset's Asset through an alias (see _default_outlet).
        self._dataset_via_alias: str | None = None
        if output_path is not None:
            outlet, via_alias = _default_outlet(str(output_path), asset, asset_alias, kwargs.get("task_id"))
            kwargs.setdefault("outlets", [outlet])  # a mapped task's come from partial()
            if via_alias and kwargs["outlets"] == [outlet]:
                self._dataset_via_alias = via_alias
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.filters = dict(filters or {})
        self.output_path = output_path
        self.format = format
        self.max_xcom_orders = max_xcom_orders
        self.csv_escape_formulas = csv_escape_formulas
        self.static_path = static_path
        self.partition = partition
        self._validate_at_parse()

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """``BaseOperator.partial``, with the dataset's Asset as the outlet where ``output_path`` is a partial
        argument: a mapped task's outlets come from its partial arguments when the DAG is parsed, so
        Airflow registers the Asset and records the mapped tasks' events on it."""
        if kwargs.get("output_path") is not None and "outlets" not in kwargs:
            outlet, _ = _default_outlet(
                str(kwargs["output_path"]),
                kwargs.get("asset"),
                kwargs.get("asset_alias"),
                kwargs.get("task_id"),
            )
            kwargs["outlets"] = [outlet]
        return super().partial(**kwargs)

    def _validate_at_parse(self) -> None:
        validate_filters_at_parse(self.task_id, self.conn_id, self.filters)

    def execute(self, context: Any) -> Any:
        from airflow_provider_orders.boundary import airflow_errors  # loaded when a task runs, not at parse

        with airflow_errors():
            hook = get_orders_hook(self.conn_id)
            filters = hook.validate_filters(self.filters)
            self._lineage = listing_facts(hook, filters)
            self.log.info(
                "Listing %s orders from connection %r", hook.vendor_class.display_name, self.conn_id
            )
            if self.output_path is None:
                return self._to_xcom(hook, filters)
            return self._to_storage(hook, filters, context)

    def _to_xcom(self, hook: OrdersHook, filters: OrderFilters) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for order in hook.iter_orders(filters):
            if len(out) >= self.max_xcom_orders:
                raise AirflowFailException(
                    f"more than max_xcom_orders={self.max_xcom_orders} orders match; XCom is no place for "
                    "them: set output_path (for example 'file:///data/orders.jsonl' or "
                    "'s3://aws_default@bucket/orders.jsonl') to stream them to object storage, or raise "
                    "max_xcom_orders"
                )
            out.append(order.model_dump(mode="json"))
        self.log.info("Returning %d orders through XCom", len(out))
        self._lineage["count"] = len(out)
        return out

    def _to_storage(self, hook: OrdersHook, filters: OrderFilters, context: Any) -> dict[str, Any]:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        from airflow_provider_orders.operators.writers import writer_for

        target = self.output_path if isinstance(self.output_path, ObjectStoragePath) else None
        if target is None:
            uri = _absolute(str(self.output_path))
            _check_filesystem(uri)
            target = ObjectStoragePath(uri)
        _prepare_target(target)  # before any request: a wrong path costs no vendor call
        temp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        started = last = time.monotonic()
        count = 0
        try:
            with temp.open("wb") as out:
                writer = writer_for(self.format, out, escape_formulas=self.csv_escape_formulas)
                for order in hook.iter_orders(filters):
                    writer.write(order)
                    count += 1
                    now = time.monotonic()
                    if now - last >= PROGRESS_EVERY_SECONDS:
                        last = now
                        self.log.info(
                            "%d orders written so far (%.0f orders/s)", count, count / (now - started)
                        )
                writer.close()
            # Readers see the whole file or none: the move is a rename on local disks, and on S3 the
            # object appears at its key only once copied whole.
            temp.fs.mv(temp.path, target.path)
        except BaseException:
            _remove_quietly(temp)
            raise
        elapsed = time.monotonic() - started
        uri = _display_uri(target)
        self.log.info("Wrote %d orders to %s as %s in %.1fs", count, uri, self.format, elapsed)
        result = {"uri": uri, "count": count, "format": self.format, "vendor": hook.conn_type}
        self._lineage.update(count=count, uri=uri, bytes=_size_of(target))
        self._record_asset(context, uri, {**result, "window": self._lineage["window"]})
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (``apache-airflow-providers-openlineage``): the vendor's order API and scope as the
        input, the file written (with its row count and size) as the output."""
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        facts = getattr(self, "_lineage", None)
        if facts is None:  # execute did not get as far as the connection
            return OperatorLineage()
        inputs = [Dataset(namespace=facts["namespace"], name=facts["name"])]
        outputs = []
        if "uri" in facts:
            namespace, name = _dataset_of(facts["uri"])
            statistics = OutputStatisticsOutputDatasetFacet(rowCount=facts["count"], size=facts["bytes"])
            outputs.append(OutputDataset(namespace=namespace, name=name,
                                         outputFacets={"outputStatistics": statistics}))  # fmt: skip
        return OperatorLineage(inputs=inputs, outputs=outputs)

    def _record_asset(self, context: Any, uri: str, result: dict[str, Any]) -> None:
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        extra = {k: result[k] for k in ("count", "format", "vendor", "window")}
        key = self._lineage.get("partition_key")
        run_key = getattr(context.get("dag_run"), "partition_key", None)
        for outlet in self.outlets:
            if isinstance(outlet, AssetAlias) and self._dataset_via_alias:
                events[outlet].add(Asset(self._dataset_via_alias), extra={**extra, "uri": uri})
            elif isinstance(outlet, AssetAlias):
                events[outlet].add(Asset(_asset_uri(uri)), extra=extra)
            elif isinstance(outlet, Asset):
                accessor = events[outlet]
                accessor.extra = {**extra, "uri": uri}
                # Airflow 3.3+: a task names its event's partition (3.2 takes the run's). A partitioned
                # run's own key stands: Airflow warns where a task's key differs from it.
                if self.partition and key and not run_key and hasattr(accessor, "add_partitions"):
                    accessor.add_partitions(key)
                    self.log.info("Recorded %s, partition %s", outlet.uri, key)


def validate_filters_at_parse(task_id: str, conn_id: str, filters: dict[str, Any]) -> None:
    """Fail the DAG parse on a filter the vendor does not know, when the connection is known now (the
    templated parts are checked again when the task runs)."""
    conn_type = conn_type_if_known(conn_id)
    if conn_type is None:
        return
    try:
        hook_class_for(conn_type, conn_id).vendor_class.parse_filters_partially(filters)
    except OrdersError as exc:
        raise AirflowException(f"{task_id}: {exc}") from None


def orders_asset(output_path: str) -> Any:
    """The Asset that ``ListOrdersOperator(output_path=output_path)`` records: schedule consumers on it.

    ``orders_asset("s3://aws_default@bucket/orders/{{ ds }}/crayon.jsonl")`` is
    ``Asset("s3://bucket/orders/crayon.jsonl")``: the location without the run's window and without the
    connection id."""
    return _outlet_for(output_path, None, None, None)


def _default_outlet(
    output_path: str, asset: Any, asset_alias: str | None, task_id: str | None
) -> tuple[Any, str | None]:
    """The outlet a task of ``output_path`` records, and on Airflow 3.0 and 3.1 the URI of the dataset's
    Asset that an alias stands in for there. Their ``dag.test()`` does not register a DAG's outlet Assets
    (a DAG processor does): 3.0 fails the task (``AirflowInactiveAssetInInletOrOutletException``) and 3.1
    drops its event, while an alias's event registers the Asset it names."""
    outlet = _outlet_for(output_path, asset, asset_alias, task_id)
    if asset_alias or AIRFLOW_V_3_2_PLUS:
        return outlet, None
    return AssetAlias(f"orders:{task_id or 'list_orders'}"), outlet.uri


def _outlet_for(output_path: str, asset: Any, asset_alias: str | None, task_id: str | None) -> Any:
    """The task's outlet: ``asset``, an AssetAlias where asked for, else the dataset's Asset."""
    if asset_alias:
        return AssetAlias(asset_alias)
    if isinstance(asset, Asset):
        return asset
    uri = _asset_uri(str(asset)) if asset is not None else _dataset_uri(output_path)
    if "{{" in uri or "{%" in uri:
        raise AirflowException(
            f"ListOrdersOperator {task_id}: asset {uri!r} is templated; an Asset is fixed when the DAG is "
            "parsed: give its URI without templates"
        )
    return Asset(uri)


def _dataset_uri(output_path: str) -> str:
    """The output location without the run's window: ``output_path`` with its template expressions and the
    separators they leave taken out (``file:///d/{{ ds }}/orders_{{ ds_nodash }}.jsonl`` is
    ``file:///d/orders.jsonl``). The host or bucket must not be templated."""
    import re
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(_asset_uri(_absolute(output_path)))
    if "{" in parts.netloc:
        raise AirflowException(
            f"ListOrdersOperator: output_path {output_path!r} has a template in its bucket or host, so its "
            "dataset cannot be named when the DAG is parsed: pass asset='s3://bucket/orders.jsonl' (the "
            "dataset's fixed URI), or asset_alias='...' to record each file as an Asset of its own"
        )
    segments: list[str] = []
    for segment in parts.path.split("/"):
        cleaned = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", segment)
        if cleaned != segment:
            cleaned = re.sub(r"([-_ ])[-_ ]+", r"\1", cleaned)  # orders__x -> orders_x
            cleaned = re.sub(r"[-_ ]+(?=\.)|^[-_ ]+|[-_ ]+$", "", cleaned)  # orders_.jsonl -> orders.jsonl
            if cleaned.startswith("."):  # a name that was all template: crayon/{{ ds }}.jsonl -> crayon.jsonl
                parent = segments.pop() if len(segments) > 1 else ""
                cleaned = (parent or "orders") + cleaned
            if not cleaned:
                continue
        segments.append(cleaned)
    return urlunsplit(parts._replace(path="/".join(segments)))


def listing_facts(hook: OrdersHook, filters: OrderFilters) -> dict[str, Any]:
    """The input of the listing for lineage: the vendor's API (no credentials in it) and the filters."""
    from urllib.parse import urlsplit

    parts = urlsplit(hook.vendor.settings.host)
    chosen = filters.model_dump(
        mode="json", exclude_defaults=True, exclude={"page_size", "concurrency", "max_orders"}
    )
    bounds = ("created_since", "created_until")
    query = "&".join(f"{k}={chosen[k]}" for k in sorted(chosen) if k not in bounds)
    # An ISO 8601 interval, ".." for an open end; a flat string (Airflow 3.0 cannot store a nested extra).
    window = (
        None if not any(chosen.get(k) for k in bounds) else "/".join(chosen.get(k) or ".." for k in bounds)
    )
    return {
        "namespace": f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else ""),
        "name": f"{hook.conn_type}/orders" + (f"?{query}" if query else ""),
        "window": window,
        "partition_key": partition_key(filters.created_since),
    }


def _dataset_of(uri: str) -> tuple[str, str]:
    """OpenLineage's naming: ``file`` and the path for local files, ``scheme://bucket`` and the key else."""
    from urllib.parse import urlsplit

    parts = urlsplit(_asset_uri(uri))
    if parts.scheme == "file":
        return "file", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def _size_of(path: Any) -> int | None:
    try:
        return int(path.stat().st_size)
    except Exception:
        return None


def _check_filesystem(uri: str) -> None:
    """A clear error when no filesystem is installed for the path's scheme."""
    import fsspec
    from fsspec.registry import known_implementations

    scheme = uri.split("://", 1)[0] if "://" in uri else "file"
    try:
        fsspec.get_filesystem_class(scheme)
    except (ImportError, ValueError) as exc:
        hint = known_implementations.get(scheme, {}).get("err") or str(exc)
        extra = " (pip install 'airflow-provider-orders[s3]')" if scheme in ("s3", "s3a") else ""
        raise AirflowException(
            f"ListOrdersOperator: output_path {uri!r} needs a filesystem for '{scheme}://' that is not "
            f"installed: {hint}{extra}"
        ) from None


def _absolute(uri: str) -> str:
    """A local path without a scheme (``out/orders.jsonl``) as an absolute ``file://`` URI; others as given."""
    if "://" in uri:
        return uri
    return "file://" + os.path.abspath(os.path.expanduser(uri))


def _prepare_target(target: Any) -> None:
    """Refuse an output path that is a directory or lies under a file; create its parent directories."""
    if target.exists() and target.is_dir():
        raise AirflowFailException(
            f"ListOrdersOperator: output_path {_display_uri(target)} is a directory; name a file in it, for "
            f"example {_display_uri(target).rstrip('/')}/orders.jsonl"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise AirflowFailException(
            f"ListOrdersOperator: output_path {_display_uri(target)} lies under a file, not a directory; "
            "choose a path whose parents are directories"
        ) from None


def _asset_uri(uri: str) -> str:
    """The path as an Asset URI: no connection id in it."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    if not parts.scheme:
        parts = parts._replace(scheme="file")
    return urlunsplit(parts)


def _display_uri(path: Any) -> str:
    text = str(path)
    if "://" not in text:
        return "file://" + text
    return text


def _remove_quietly(path: Any) -> None:
    try:
        if path.exists():
            path.unlink()
    except Exception:
        pass
