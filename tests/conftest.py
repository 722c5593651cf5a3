"""Shared fixtures. Test media is generated, never committed."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """A real (temporary) Prefect server for the session; flows run against it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """An S3-compatible server (moto) on loopback, spoken to over HTTP."""
    from s3_server import MotoServer

    with MotoServer() as server:
        yield server.url


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials; no profile, config file or endpoint from the machine running this."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def device_xp(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The device's array module: CuPy where it runs on a CUDA device, elsewhere the strict
    stand-in of ``tests/device_emulator.py``, put where ``import cupy`` finds it, so the
    device path of the metrics runs (and its host/device mix-ups fail) on every machine."""
    from qc_metrics.xp import gpu_namespace

    real = gpu_namespace()
    if real is not None:
        return real
    from device_emulator import emulator

    fake = emulator()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    return fake
