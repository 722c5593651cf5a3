"""The ordered worker thread behind the render's encoder and the QC detectors."""

from __future__ import annotations

import threading

import pytest

from courseware.worker import OrderedWorker


def test_calls_run_in_order_on_another_thread() -> None:
    seen: list[tuple[int, str]] = []
    with OrderedWorker("test", depth=2) as worker:
        for i in range(50):
            worker.submit(lambda k: seen.append((k, threading.current_thread().name)), i)
    assert [k for k, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test"}


def test_an_error_reaches_the_producer_and_later_calls_are_dropped() -> None:
    done: list[int] = []

    def step(k: int) -> None:
        if k == 3:
            raise ValueError("detector failed at 3")
        done.append(k)

    worker = OrderedWorker("test", depth=1)
    with pytest.raises(ValueError, match="failed at 3"):
        for i in range(100):
            worker.submit(step, i)
        worker.close()
    assert done[:3] == [0, 1, 2] and 3 not in done
    assert all(k < 3 for k in done)


def test_the_producers_error_wins_and_the_thread_stops() -> None:
    worker = OrderedWorker("test")
    with pytest.raises(KeyError), worker:
        worker.submit(lambda: None)
        raise KeyError("producer")
    assert not worker._thread.is_alive()
