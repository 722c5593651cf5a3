"""One worker thread running calls in the order they were submitted, fed by a bounded queue.

Used where a producer (demuxing, decoding, composing: Python holding the GIL part of the
time) and a consumer (x264, NumPy detectors: C code that releases it) can overlap. Memory
stays flat: at most ``depth`` calls (and the arrays they carry) wait in the queue. An error
raised by a call is kept and raised in the producer's thread at its next ``submit`` or at
``close``; the calls still queued after it are dropped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any


class OrderedWorker:
    def __init__(self, name: str, *, depth: int = 8) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.Queue(depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain after a failure
            fn, args = item
            try:
                fn(*args)
            except BaseException as exc:  # re-raised in the producer's thread
                self._error = exc

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; blocks while the queue is full. Raises the error of an
        earlier call, if one failed."""
        if self._error is not None:
            raise self._error
        self._queue.put((fn, args))

    def close(self) -> None:
        """Wait for every queued call; raise the first error one of them raised."""
        self._stop()
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> OrderedWorker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:  # the producer's own error wins; the worker's, if any, is dropped
            self._stop()
