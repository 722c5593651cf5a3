"""The per-frame detector protocol (after PySceneDetect's SceneDetector).

A task opens the file and drives the loop: ``process(frame, t)`` for every frame (or audio
block) in order, then ``finish()`` returns the check results. Detectors never read files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from courseware.report import Check


class Detector(ABC):
    """Accumulates over a stream of frames or blocks; reports checks at the end."""

    #: what the detector consumes: "video" (H×W×3 RGB uint8 or planar YUV) or "audio"
    kind: str = "video"

    @abstractmethod
    def process(self, data: Any, t: float) -> None:
        """Consume one frame / block whose presentation time is ``t`` seconds."""

    @abstractmethod
    def finish(self) -> list[Check]:
        """Results for everything processed so far."""
