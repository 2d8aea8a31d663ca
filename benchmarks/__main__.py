"""``python -m benchmarks``: every scenario against the sandbox on loopback; a table, and BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import machine_facts, table
from benchmarks.scenarios import FULL, SCENARIOS, TINY


def prepare_airflow_home() -> None:
    """A fresh AIRFLOW_HOME with a migrated SQLite DB, as any deployment has: the http provider reads
    Variables on every call, and without a DB each read would fail and log a traceback, slowing it."""
    home = tempfile.mkdtemp(prefix="orders-bench-home-")
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, timeout=300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="every scenario once at tiny size (smoke run)")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run only these scenarios")
    parser.add_argument(
        "--write", default=None, help="write the report here (default BENCHMARKS.md, not with --tiny)"
    )
    args = parser.parse_args(argv)
    size = TINY if args.tiny else FULL
    prepare_airflow_home()
    rows = []
    started = time.monotonic()
    for name, scenario in SCENARIOS.items():
        if args.only and name not in args.only:
            continue
        t = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(scenario(size))
        print(f"  {name} took {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
    report = table(rows)
    print(report)
    target = args.write or (None if args.tiny else "BENCHMARKS.md")
    if target:
        command = (
            "python -m benchmarks"
            + (" --tiny" if args.tiny else "")
            + "".join(f" --only {o}" for o in args.only or [])
        )
        facts = "\n".join(f"- {line}" for line in machine_facts())
        Path(target).write_text(
            f"# Benchmarks\n\nProduced by `{command}` in {time.monotonic() - started:.0f} s on:\n\n{facts}\n\n"
            "Each scenario runs its competitors in the same process run, alternating, with repeats; ratios are "
            "taken against the baseline measured in that same run. The sandbox runs in its own process.\n\n"
            f"{report}\n"
        )
        print(f"wrote {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
