"""The provider metadata Airflow reads, checked against the schema the installed Airflow release ships."""

from __future__ import annotations

import json
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_orders import get_provider_info


def test_provider_info_is_valid_for_the_installed_airflow_release() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)  # raises ValidationError naming the offending key
