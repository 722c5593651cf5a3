"""A Prefect stack on one machine: server, work pools, limits, deployments, process workers.

Used by ``courseware serve`` and by the distributed test. Every process started here is a
child of the caller, with its own process group, and is stopped by :func:`stop`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository (prefect.yaml, flows/)
PREFECT = [sys.executable, "-m", "prefect"]


def stack_env(api_url: str, home: Path | None = None,
              extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for every process of the stack: one API, code at ROOT, quiet."""
    env = dict(os.environ)
    env.update({
        "PREFECT_API_URL": api_url,
        "COURSEWARE_ROOT": str(ROOT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": env.get("DO_NOT_TRACK", "1"),
        "PREFECT_UI_ENABLED": env.get("PREFECT_UI_ENABLED", "true"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    })
    if home is not None:
        env["PREFECT_HOME"] = str(home)
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = (
            f"sqlite+aiosqlite:///{home / 'prefect.db'}")
    env.update(extra or {})
    return env


def start(args: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(list(args), env=dict(env), cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def start_server(host: str, port: int, env: Mapping[str, str],
                 log: Path) -> subprocess.Popen[bytes]:
    return start([*PREFECT, "server", "start", "--host", host, "--port", str(port)], env, log)


def wait_healthy(api_url: str, *, timeout_s: float,
                 proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with status {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"{api_url}/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the Prefect server at {api_url} did not answer in {timeout_s:.0f} s")


def prefect(args: Sequence[str], env: Mapping[str, str], *, timeout_s: float = 180,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*PREFECT, "--no-prompt", *args], env=dict(env), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout_s)
    if check and proc.returncode != 0:
        raise RuntimeError(f"prefect {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def setup(env: Mapping[str, str], *, cpu_limit: int, render_limit: int,
          gpu: bool = False) -> None:
    """Work pools (with their concurrency limits), the "render" limit and the deployments."""
    pools = [("cpu", cpu_limit)] + ([("gpu", 1)] if gpu else [])
    for pool, limit in pools:
        prefect(["work-pool", "create", pool, "--type", "process", "--overwrite"], env)
        prefect(["work-pool", "set-concurrency-limit", pool, str(limit)], env)
    made = prefect(["gcl", "create", "render", "--limit", str(render_limit)], env, check=False)
    if made.returncode != 0:
        prefect(["gcl", "update", "render", "--limit", str(render_limit)], env)
    names = ["course", "lecture", "batch", "qc-cpu", "qc-batch"] + (["qc-gpu"] if gpu else [])
    prefect(["deploy", *[a for n in names for a in ("--name", n)]], env, timeout_s=300)


def start_worker(pool: str, name: str, env: Mapping[str, str], log: Path, *,
                 limit: int | None = None) -> subprocess.Popen[bytes]:
    args = [*PREFECT, "worker", "start", "--pool", pool, "--name", name, "--type", "process"]
    if limit is not None:
        args += ["--limit", str(limit)]
    return start(args, env, log)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), children first-level first."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        out += kids
        todo += kids
    return out


def kill_tree(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal a process, its group and every descendant (flow runs live in new sessions)."""
    pids = [*descendants(proc.pid), proc.pid]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop(procs: Sequence[subprocess.Popen[bytes]], *, grace_s: float = 10) -> None:
    """SIGTERM, then SIGKILL what is left after ``grace_s``; reaps every process."""
    for proc in procs:
        if proc.poll() is None:
            kill_tree(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill_tree(proc, signal.SIGKILL)
            proc.wait(timeout=10)
