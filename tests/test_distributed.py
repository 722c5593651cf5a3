"""A real Prefect server, the prefect.yaml deployments and two process workers on 127.0.0.1:
a batch of two courses is shared by both workers; one worker is SIGKILLed mid-render and
a rerun of the batch completes it with nothing lost and nothing published twice.

Two courses, not more: the killed worker is not restarted, so the rerun runs every course
on the survivor, one after another (each course run is a fresh process, ~8 s of start-up
on two cores before any work)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from courseware.sample import make_sample
from courseware.submit import READY_NAME
from flows.serve import (
    ROOT,
    descendants,
    kill_tree,
    setup,
    stack_env,
    start,
    start_server,
    start_worker,
    stop,
    wait_healthy,
)
from tasks.inbox import named_files

COURSES = ("甲", "乙")


@dataclass
class Stack:
    api_url: str
    env: dict[str, str]
    workers: dict[str, subprocess.Popen[bytes]]
    logs: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = stack_env(api_url, home, {"PREFECT_UI_ENABLED": "false",
                                    "PREFECT_WORKER_QUERY_SECONDS": "2",
                                    "PREFECT_WORKER_PREFETCH_SECONDS": "2"})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        server = start_server("127.0.0.1", port, env, home / "server.log")
        procs.append(server)
        wait_healthy(api_url, timeout_s=120, proc=server)
        setup(env, cpu_limit=2, render_limit=2)
        workers = {name: start_worker("cpu", name, env, home / f"{name}.log", limit=1)
                   for name in ("w1", "w2")}
        procs += workers.values()
        yield Stack(api_url=api_url, env=env, workers=workers, logs=home)
    finally:
        stop(procs)


def _inbox(tmp: Path) -> Path:
    raw = make_sample(tmp / "raw", lectures=1, seconds=2.0)
    inbox = tmp / "inbox"
    for i, name in enumerate(COURSES):
        folder = inbox / f"course-{i}"
        shutil.copytree(raw.parent, folder)
        text = (folder / "course.yaml").read_text("utf-8")
        old = text.split("name: ", 1)[1].split("   #", 1)[0]
        (folder / "course.yaml").write_text(text.replace(old, f'"课程{name}"', 1), "utf-8")
        from courseware.course import load_course

        course = load_course(folder / "course.yaml")
        files = [{"key": rel, "size": (folder / rel).stat().st_size,
                  "sha256": hashlib.sha256((folder / rel).read_bytes()).hexdigest()}
                 for rel in ["course.yaml", *named_files(course)]]
        (folder / READY_NAME).write_text(json.dumps({"course_file": "course.yaml",
                                                     "files": files}), "utf-8")
    return inbox


_BATCH = """
import json, sys
from flows.batch import batch_flow
r = batch_flow(sys.argv[1], sys.argv[2], work_dir=sys.argv[3], raw_qc=False, poll_s=1.0,
               timeout_s=float(sys.argv[4]))
print("RESULT " + json.dumps(r.model_dump(), ensure_ascii=False))
"""


def _batch(stack: Stack, inbox: Path, store: Path, work: Path, log: Path,
           timeout_s: float) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-c", _BATCH, str(inbox), str(store), str(work),
                  str(timeout_s)], stack.env, log)


def _result(proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> dict[str, dict]:
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        pytest.fail(f"the batch did not finish in {timeout_s} s:\n{log.read_text()[-3000:]}")
    text = log.read_text("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.startswith("RESULT ")]
    assert lines, text[-3000:]
    data = json.loads(lines[-1].removeprefix("RESULT "))
    return {s["name"]: s for s in data["submissions"]}


def _rendering_worker(stack: Stack, work: Path) -> str | None:
    """The worker one of whose flow runs is writing a render (``.part`` file) right now."""
    for part in work.rglob(".lecture*.part"):
        pid = int(part.name.split(".")[-2])
        for name, proc in stack.workers.items():
            if proc.poll() is None and pid in descendants(proc.pid):
                return name
    return None


def _crash_orphans(stack: Stack) -> list[str]:
    """Mark course runs whose process is gone as Crashed: what Prefect's zombie-run
    automation (infra/README.md) does after the missed heartbeats, done here at once."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
    )
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Crashed

    marked = []
    with temporary_settings({PREFECT_API_URL: stack.api_url}), \
            get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Running"]))))
        for run in runs:
            pid = int(run.infrastructure_pid or 0)
            alive = pid > 0 and Path(f"/proc/{pid}").exists()
            if run.infrastructure_pid and not alive:
                client.set_flow_run_state(run.id, Crashed(message="its worker was killed"),
                                          force=True)
                marked.append(run.name)
    return marked


def _snapshot(store: Path) -> dict[str, tuple[int, int, int]]:
    return {p.relative_to(store).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns,
                                              p.stat().st_size)
            for p in sorted(store.rglob("*")) if p.is_file()}


def _took_work(stack: Stack) -> dict[str, int]:
    counts = {}
    for name in stack.workers:
        text = (stack.logs / f"{name}.log").read_text("utf-8", errors="replace")
        counts[name] = len(set(re.findall(r"[Ss]ubmitting flow run '([0-9a-f-]{36})'", text)))
    return counts


@pytest.mark.timeout(420)
def test_two_workers_and_a_killed_worker(stack: Stack, tmp_path: Path) -> None:
    inbox, store, work = _inbox(tmp_path), tmp_path / "delivery", tmp_path / "work"
    log1 = tmp_path / "batch1.log"
    batch = _batch(stack, inbox, store, work, log1, timeout_s=300)
    killed = None
    try:
        deadline = time.monotonic() + 180
        while killed is None and time.monotonic() < deadline and batch.poll() is None:
            killed = _rendering_worker(stack, work)
            if killed is None:
                time.sleep(0.2)
        assert killed is not None, "no render seen in progress: " + log1.read_text()[-3000:]
        kill_tree(stack.workers[killed])  # SIGKILL: the worker and the render under it
        stack.workers[killed].wait(timeout=10)
        crashed: list[str] = []
        deadline = time.monotonic() + 30
        while not crashed and time.monotonic() < deadline:
            crashed = _crash_orphans(stack)
            time.sleep(0.5)
        assert len(crashed) == 1, crashed
        first = _result(batch, log1, timeout_s=240)
    finally:
        with contextlib.suppress(Exception):
            kill_tree(batch)
    states = sorted(s["state"] for s in first.values())
    assert states == ["Completed", "Crashed"], first
    assert not list(store.rglob("*.part")) and not list(store.rglob(".*"))
    lost = next(s for s in first.values() if s["state"] == "Crashed")
    assert lost["published"] == 0  # a killed render publishes nothing
    before = _snapshot(store)
    assert len([k for k in before if k.endswith(".done.json")]) == 1

    log2 = tmp_path / "batch2.log"
    second = _result(_batch(stack, inbox, store, work, log2, timeout_s=240), log2,
                     timeout_s=300)
    assert all(s["state"] == "Completed" and s["published"] == s["lectures"] == 1
               for s in second.values()), second
    rendered = {name: s["rendered"] for name, s in second.items()}
    assert rendered[lost["name"]] == 1 and sum(rendered.values()) == 1, rendered
    after = _snapshot(store)
    # the root listing (D1) names every course on the medium: the lost course changes it
    root = {"manifest.json", "课程清单.txt"}
    for key, stat in before.items():  # nothing published twice: same inode, same mtime
        if key not in root:
            assert after[key] == stat, key
    listing = json.loads((store / "manifest.json").read_text("utf-8"))
    assert len(listing["courses"]) == 2, listing
    assert len([k for k in after if k.endswith(".done.json")]) == 2
    lectures = [k for k in after if k.endswith(".mp4") and "/第" in k]
    previews = [k for k in after if k.endswith(".mp4") and "/课程预览_" in k]
    assert len(lectures) == 2 and len(previews) == 2, sorted(after)
    took = _took_work(stack)
    assert all(n >= 1 for n in took.values()), (took, os.listdir(stack.logs))


_COURSE = """
import json, sys
from flows.course import course_flow
r = course_flow(sys.argv[1], sys.argv[2], work_dir=sys.argv[3], qc_deployment="qc/qc-cpu")
print("RESULT " + json.dumps(r.model_dump(), ensure_ascii=False))
"""


@pytest.mark.timeout(300)
def test_qc_routed_to_a_qc_deployment(stack: Stack, tmp_path: Path) -> None:
    """``qc_deployment``: raw-source and full QC run as flow runs of the ``qc`` deployment on
    a worker of its pool (where operators put the GPU); the reports come back through the
    shared volume, and the published one names the published file."""
    raw = make_sample(tmp_path / "raw", lectures=1, seconds=2.0)
    store, work, log = tmp_path / "delivery", tmp_path / "work", tmp_path / "course.log"
    worker = start_worker("cpu", "qc1", stack.env, stack.logs / "qc1.log", limit=2)
    try:
        run = start([sys.executable, "-c", _COURSE, str(raw), str(store), str(work)],
                    stack.env, log)
        try:
            run.wait(timeout=240)
        except subprocess.TimeoutExpired:
            kill_tree(run)
            pytest.fail("the course did not finish:\n" + log.read_text()[-3000:])
    finally:
        stop([worker])
    text = log.read_text("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.startswith("RESULT ")]
    assert lines, text[-3000:]
    (lecture,) = json.loads(lines[-1].removeprefix("RESULT "))["lectures"]
    assert lecture["status"] == "pass" and lecture["qc_status"] in ("pass", "warn"), lecture
    assert set(lecture["raw_qc"]) == {"slides", "teacher"}
    assert "error" not in lecture["raw_qc"].values(), lecture["raw_qc"]
    stem = store / lecture["key"].removesuffix(".mp4")
    report = json.loads(Path(f"{stem}.qc.json").read_text("utf-8"))
    assert report["file"] == lecture["key"] and report["backend"] == "numpy"
    assert Path(f"{stem}.qc.html").is_file()

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: stack.api_url}), \
            get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["qc"])))
    done = [r for r in runs if r.state is not None and r.state.is_completed()]
    # two raw sources and the rendered lecture, each a run of the deployment on a worker
    assert len(done) == 3 and all(r.deployment_id for r in done), [
        (r.name, r.state_name) for r in runs]


def test_prefect_yaml_deployments_match_the_flows() -> None:
    import yaml

    data = yaml.safe_load((ROOT / "prefect.yaml").read_text("utf-8"))
    pools = {p["name"] for p in data["definitions"]["work_pools"].values()}
    assert pools == {"cpu", "gpu"}
    for dep in data["deployments"]:
        path, func = dep["entrypoint"].split(":")
        assert f"def {func}(" in (ROOT / path).read_text("utf-8"), dep["entrypoint"]
        assert dep["work_pool"]["name"] in pools
    assert any(d["work_pool"]["name"] == "gpu" for d in data["deployments"])


def test_infra_files_are_valid_and_consistent() -> None:
    """Docker does not run here: parse every manifest and check they agree with each other,
    with prefect.yaml, the Dockerfile and the installed Prefect."""
    import prefect
    import yaml

    infra = ROOT / "infra"
    docs = {p.relative_to(infra).as_posix(): [d for d in yaml.safe_load_all(p.read_text("utf-8"))
                                              if d is not None]
            for p in sorted([*infra.glob("*.yml"), *infra.glob("k8s/*.yaml")])}
    assert {"docker-compose.yml", "k8s/base.yaml", "k8s/worker-cpu.yaml",
            "k8s/worker-gpu.yaml"} <= set(docs)
    pools = {p["name"] for p in yaml.safe_load(
        (ROOT / "prefect.yaml").read_text("utf-8"))["definitions"]["work_pools"].values()}
    dockerfile = (infra / "Dockerfile").read_text("utf-8")
    assert "COURSEWARE_ROOT=/app" in dockerfile and "WORKDIR /app" in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), line

    compose = docs["docker-compose.yml"][0]
    services = compose["services"]
    server_image = services["prefect-server"]["image"]
    assert server_image.startswith(f"prefecthq/prefect:{prefect.__version__}-"), server_image
    assert "postgresql+asyncpg://" in services["prefect-server"]["environment"][
        "PREFECT_API_DATABASE_CONNECTION_URL"]
    assert {"postgres", "minio", "setup", "worker-cpu", "worker-gpu"} <= set(services)
    images = set()
    for name in ("worker-cpu", "worker-gpu"):
        svc = services[name]
        cmd = svc["command"]
        assert cmd[:3] == ["prefect", "worker", "start"]
        assert cmd[cmd.index("--pool") + 1] in pools
        assert svc["environment"]["COURSEWARE_ROOT"] == "/app"
        assert svc["environment"]["PREFECT_API_URL"].startswith("http://prefect-server:4200")
        images.add(svc["image"])
    gpu_devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu_devices[0]["capabilities"] == ["gpu"]
    assert "prefect --no-prompt deploy --all" in " ".join(services["setup"]["command"])

    k8s = [d for name, ds in docs.items() if name.startswith("k8s/") for d in ds]
    workers = {d["metadata"]["name"]: d for d in k8s if d["kind"] == "Deployment"}
    assert set(workers) == {"worker-cpu", "worker-gpu"}
    for name, dep in workers.items():
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] in images, (name, container["image"], images)
        cmd = container["command"]
        assert cmd[cmd.index("--pool") + 1] == name.removeprefix("worker-")
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/data" in mounts
    gpu = workers["worker-gpu"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == 1
    cpu = workers["worker-cpu"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert "nvidia.com/gpu" not in cpu["limits"]
    settings = next(d for d in k8s if d["kind"] == "ConfigMap")["data"]
    assert settings["COURSEWARE_ROOT"] == "/app" and settings["COURSEWARE_WORK"].startswith("/data")
    claims = {d["metadata"]["name"] for d in k8s if d["kind"] == "PersistentVolumeClaim"}
    for dep in workers.values():
        for vol in dep["spec"]["template"]["spec"]["volumes"]:
            assert vol["persistentVolumeClaim"]["claimName"] in claims


@pytest.mark.timeout(240)
def test_a_stick_checked_by_the_qc_batch_deployment(stack: Stack, tmp_path: Path) -> None:
    """An operator starts ``qc-batch/qc-batch`` from the UI (here: ``run_deployment``) with a
    stick on the shared volume: a worker of the cpu pool checks it, and the reports and the
    summary land in ``out``."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    raw = make_sample(tmp_path / "raw", lectures=1, seconds=2.0)
    out = tmp_path / "reports"
    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        run = run_deployment("qc-batch/qc-batch", timeout=200, parameters={
            "paths": [str(raw.parent / "lecture01")], "out": str(out)})
    assert run.state is not None and run.state.is_completed(), run.state
    summary = json.loads((out / "质检汇总.json").read_text("utf-8"))
    assert sorted(f["file"] for f in summary["files"]) == ["slides.mp4", "teacher.mp4"]
    assert all(f["status"] != "error" and (out / f["page"]).is_file()
               for f in summary["files"])
    (folder,) = summary["folders"]
    assert folder["status"] == "fail"        # two raw camera files are no course (A6, Q1, …)

