"""Batch throughput with 2 process workers against 1, on this machine.

A local Prefect server (SQLite, loopback), the prefect.yaml deployments, N workers of the
``cpu`` pool (one flow run each), and a batch of ``--courses`` generated courses; each batch
runs into a fresh store, so every lecture is rendered. Prints the wall time of each batch
and the speed-up. On a 2-core machine expect well under 2×: x264 and the decoders already
use more than one thread per render, and each flow run pays ~5 s of Python start-up.

    .venv/bin/python benchmarks/bench_batch.py --courses 4 --seconds 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from courseware.course import load_course
from courseware.sample import make_sample
from courseware.submit import READY_NAME
from flows.serve import (
    setup,
    stack_env,
    start,
    start_server,
    start_worker,
    stop,
    wait_healthy,
)
from tasks.inbox import named_files

_BATCH = """
import json, sys
from flows.batch import batch_flow
r = batch_flow(sys.argv[1], sys.argv[2], work_dir=sys.argv[3], raw_qc=False, poll_s=0.5)
print("RESULT " + json.dumps([s.state for s in r.submissions]))
"""


def make_inbox(root: Path, courses: int, seconds: float) -> Path:
    raw = make_sample(root / "raw", lectures=1, seconds=seconds)
    inbox = root / "inbox"
    for i in range(courses):
        folder = inbox / f"course-{i}"
        shutil.copytree(raw.parent, folder)
        text = (folder / "course.yaml").read_text("utf-8")
        old = text.split("name: ", 1)[1].split("   #", 1)[0]
        (folder / "course.yaml").write_text(text.replace(old, f'"基准课程{i}"', 1), "utf-8")
        course = load_course(folder / "course.yaml")
        files = [{"key": rel, "size": (folder / rel).stat().st_size,
                  "sha256": hashlib.sha256((folder / rel).read_bytes()).hexdigest()}
                 for rel in ["course.yaml", *named_files(course)]]
        (folder / READY_NAME).write_text(json.dumps({"course_file": "course.yaml",
                                                     "files": files}), "utf-8")
    return inbox


def run_batch(env: dict[str, str], inbox: Path, store: Path, work: Path, log: Path) -> float:
    started = time.perf_counter()
    proc = start([sys.executable, "-c", _BATCH, str(inbox), str(store), str(work)], env, log)
    try:
        proc.wait(timeout=1800)
    finally:
        stop([proc])
    elapsed = time.perf_counter() - started
    result = [ln for ln in log.read_text().splitlines() if ln.startswith("RESULT ")]
    states = json.loads(result[-1].removeprefix("RESULT ")) if result else None
    if not states or any(s != "Completed" for s in states):
        raise SystemExit(f"batch failed ({states}); see {log}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        inbox = make_inbox(root, args.courses, args.seconds)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        api = f"http://127.0.0.1:{port}/api"
        env = stack_env(api, root / "home", {"PREFECT_UI_ENABLED": "false",
                                             "PREFECT_WORKER_QUERY_SECONDS": "1"})
        (root / "home").mkdir()
        procs.append(start_server("127.0.0.1", port, env, root / "server.log"))
        wait_healthy(api, timeout_s=180, proc=procs[0])
        setup(env, cpu_limit=2, render_limit=2)
        times = {}
        for n in (1, 2):
            workers = [start_worker("cpu", f"bench{n}-{i}", env, root / f"w{n}-{i}.log", limit=1)
                       for i in range(n)]
            time.sleep(3)  # workers up and polling
            times[n] = run_batch(env, inbox, root / f"store{n}", root / f"work{n}",
                                 root / f"batch{n}.log")
            stop(workers)
            print(f"{n} worker(s): {args.courses} courses × 1 lecture × {args.seconds:g} s "
                  f"in {times[n]:.1f} s", flush=True)
        print(f"speed-up 2 workers vs 1: {times[1] / times[2]:.2f}×")
    finally:
        stop(procs)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
