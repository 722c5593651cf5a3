"""How far a long pass has got (a render, a QC pass), for the person waiting on it.

A 60-minute lecture takes minutes to render and about as long to check on a small machine.
The pass reports the media time it has reached (:class:`Ticker`); what it reports to is a
Prefect progress artifact of the run doing the work (:func:`artifact_progress`: what an
operator watches in the Prefect UI) or a line on the terminal (:class:`TerminalProgress`:
``courseware qc FILE``).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TextIO
from uuid import UUID

#: told the fraction done, 0…1
Progress = Callable[[float], None]

#: an artifact moves by at least this many percent, and this many seconds apart (each move
#: is a call to the Prefect API)
ARTIFACT_STEP_PCT = 5.0
ARTIFACT_EVERY_S = 2.0


class Ticker:
    """Media times → the fraction done of (``start``, ``end``), told to ``progress`` at most
    once per ``every_s`` of media; :meth:`done` tells 1.0."""

    def __init__(self, progress: Progress, start: float, end: float, *,
                 every_s: float = 1.0) -> None:
        self.progress = progress
        self.start, self.length = start, max(end - start, 1e-9)
        self.every_s = every_s
        self._next = start

    def __call__(self, t: float | None) -> None:
        if t is None or t < self._next:
            return
        self._next = t + self.every_s
        self.progress(min(1.0, max(0.0, (t - self.start) / self.length)))

    def done(self) -> None:
        self.progress(1.0)


def artifact_progress(description: str, *, key: str | None = None) -> Progress | None:
    """A progress artifact of the Prefect task or flow run this is called in, and a hook
    (fraction 0…1) that moves it, throttled (``ARTIFACT_STEP_PCT``, ``ARTIFACT_EVERY_S``;
    1.0 always); None outside any run."""
    from prefect.artifacts import create_progress_artifact, update_progress_artifact
    from prefect.context import FlowRunContext, TaskRunContext

    if TaskRunContext.get() is None and FlowRunContext.get() is None:
        return None
    artifact = create_progress_artifact(progress=0.0, key=key, description=description)
    assert isinstance(artifact, UUID)
    last = [0.0, time.monotonic()]

    def update(fraction: float) -> None:
        pct = max(0.0, min(100.0, 100.0 * fraction))
        now = time.monotonic()
        if pct >= 100.0 or (pct - last[0] >= ARTIFACT_STEP_PCT
                            and now - last[1] >= ARTIFACT_EVERY_S):
            update_progress_artifact(artifact_id=artifact, progress=pct)
            last[:] = [pct, now]

    return update


class TerminalProgress:
    """One line on a terminal, rewritten in place at most every ``every_s`` seconds: what is
    being done, the percentage and, once it can be told, the time left; :meth:`clear`
    removes it. Writes nothing where ``stream`` is not a terminal (a log, a pipe)."""

    def __init__(self, label: str, *, stream: TextIO | None = None,
                 every_s: float = 0.5) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty()
        self.every_s = every_s
        self._started = time.monotonic()
        self._shown = -math.inf

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if not self.live or (now - self._shown < self.every_s and fraction < 1.0):
            return
        self._shown = now
        spent = now - self._started
        line = f"{self.label}: {100.0 * fraction:3.0f} %"
        if 0.02 <= fraction < 1.0 and spent >= 2.0:
            line += f", about {_duration((1.0 - fraction) * spent / fraction)} left"
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()

    def clear(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60)} min"
