"""Many real worker processes without paying Airflow's import in each: one launcher imports once, then forks.

The tests of shared tokens and shared budgets need several OS processes that list at the same time. Started
with ``python -c`` each, every one imported Airflow and the provider first (2.5 s of CPU each, 10-15 s on a
busy 2-core machine), which was most of those tests' minute. Here one launcher process imports ``preload``,
then ``fork()``s a child per worker, as Airflow's own task runner and Celery's prefork pool do. Each child has
its own PID, environment, connections, token cache and event loop, and its own stdout and stderr (files the
test reads), so each process is as separate as before; only the import is shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import result_line

LAUNCHER = r"""
import json, os, sys, traceback
spec = json.loads(sys.argv[1])
for module in spec["preload"]:
    __import__(module)
code = compile(spec["code"], "<worker>", "exec")
children = {}
for index, child in enumerate(spec["children"]):
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.environ.update(child["env"])
            for fd, name in ((1, "stdout"), (2, "stderr")):
                target = os.open(child[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(target, fd)
                os.close(target)
            sys.argv = ["<worker>", *child["argv"]]
            exec(code, {"__name__": "__main__"})
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    children[pid] = index
codes = {}
while children:
    pid, status = os.wait()
    codes[children.pop(pid)] = os.waitstatus_to_exitcode(status)
print(json.dumps([codes[i] for i in range(len(spec["children"]))]))
"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Forked:
    """``len(argvs)`` workers running ``code`` (a script, reading ``sys.argv[1:]``), started at once."""

    def __init__(
        self,
        code: str,
        argvs: list[list[str]],
        *,
        workdir: Path,
        preload: list[str],
        env: dict[str, str] | None = None,
        child_env: list[dict[str, str]] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.children = [
            {"argv": argv, "env": (child_env or [{}] * len(argvs))[i],
             "stdout": str(workdir / f"worker-{i}.out"), "stderr": str(workdir / f"worker-{i}.err")}
            for i, argv in enumerate(argvs)
        ]  # fmt: skip
        spec = json.dumps({"preload": preload, "code": code, "children": self.children})
        self.launcher = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, spec],
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def running(self) -> bool:
        return self.launcher.poll() is None

    def wait(self, timeout: float = 240) -> list[Result]:
        out, err = self.launcher.communicate(timeout=timeout)
        assert self.launcher.returncode == 0, f"the launcher failed: {err[-3000:]}"
        codes = result_line(out)  # Airflow, imported there, may log to stdout at exit
        return [
            Result(code, Path(child["stdout"]).read_text(), Path(child["stderr"]).read_text())
            for code, child in zip(codes, self.children, strict=True)
        ]
