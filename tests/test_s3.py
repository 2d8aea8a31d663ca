"""ListOrdersOperator writing to s3:// on a real S3-compatible server on loopback (moto server mode)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_orders.boundary import OrdersTaskFailed
from airflow_provider_orders.operators.orders import ListOrdersOperator
from airflow_provider_orders.sandbox import Sandbox
from tests.conftest import ORDERS, control, expected_ids
from tests.test_operator import dataset_uri, run

pytestmark = pytest.mark.integration


def keys(client: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_jsonl_to_s3_holds_every_order(sbx: Sandbox, s3_bucket: Any) -> None:
    client, bucket = s3_bucket
    op = ListOrdersOperator(task_id="t", conn_id="granite_access_express_default", filters={"page_size": 50},
                            output_path=f"s3://aws_test@{bucket}/exports/granite.jsonl")  # fmt: skip
    result, _ = run(op)
    body = client.get_object(Bucket=bucket, Key="exports/granite.jsonl")["Body"].read().decode()
    ids = [json.loads(line)["id"] for line in body.splitlines()]
    assert len(ids) == ORDERS and set(ids) == expected_ids(sbx, "granite_access_express")
    assert keys(client, bucket) == ["exports/granite.jsonl"]
    assert result["count"] == ORDERS and result["uri"].endswith(f"{bucket}/exports/granite.jsonl")
    assert dataset_uri(op) == f"s3://{bucket}/exports/granite.jsonl"  # no connection id in the Asset


def test_a_failed_listing_leaves_no_object_on_s3(sbx: Sandbox, s3_bucket: Any) -> None:
    client, bucket = s3_bucket
    control(sbx, "/faults", {"vendor": "fleetio", "kind": "status", "status": 400, "on_request": 2})
    op = ListOrdersOperator(task_id="t", conn_id="fleetio_default", filters={"page_size": 20},
                            output_path=f"s3://aws_test@{bucket}/exports/fleetio.jsonl")  # fmt: skip
    with pytest.raises(OrdersTaskFailed) as info:
        run(op)
    assert "HTTP 400" in str(info.value.__cause__)
    assert keys(client, bucket) == []
