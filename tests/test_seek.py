"""Readers that start far into a file (a lecture's start after the setting up, a second lecture
in the same recording, a camera switched on minutes before the others) seek there, and give
exactly what reading the file from its start gives: the same pictures on the same ticks, the
same samples. In an MP4 (an index), an MPEG-TS (none, its clock from 1.4 s) and a recording
split into two files (read through FFmpeg's concat list)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from foreign_media import FFMPEG

from courseware.media import SEEK_FROM_S, AudioFeed, cfr_frames

FPS, FS = 25, 48000
SECONDS = 40
#: a start on the 25-fps grid (so the ticks of both readings coincide), well past SEEK_FROM_S
START_S = 30.32


@pytest.fixture(scope="module", params=["mp4", "ts", "parts"])
def recording(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Path:
    """40 s of moving pictures (GOP 2 s, B-frames) and seeded noise (no two stretches
    alike), as a camera writes them; "parts": the MP4 cut in two at 20 s, joined as a
    recording split into files is (tasks.probe.join_parts)."""
    folder = tmp_path_factory.mktemp("seek")
    path = folder / f"camera.{'mp4' if request.param == 'parts' else request.param}"
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error",
                    "-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={FPS}",
                    "-f", "lavfi", "-i", f"anoisesrc=r={FS}:c=pink:a=0.3:seed=7",
                    "-t", str(SECONDS), "-c:v", "libx264", "-g", "50", "-bf", "2",
                    "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(path)],
                   check=True, capture_output=True)
    if request.param != "parts":
        return path
    from tasks.probe import join_parts

    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(path), "-c",
                    "copy", "-f", "segment", "-segment_time", "20", "-reset_timestamps",
                    "1", str(folder / "part%d.mp4")], check=True, capture_output=True)
    return join_parts("teacher", [folder / "part0.mp4", folder / "part1.mp4"],
                      lecture="1").path


def test_pictures_from_far_into_a_file(recording: Path) -> None:
    assert START_S > SEEK_FROM_S
    whole = [f.to_ndarray(format="gray") if f is not None else None
             for f in cfr_frames(recording, fps=FPS)]     # the TS's sound starts first
    skip = round(START_S * FPS)
    sought = [f.to_ndarray(format="gray") if f is not None else None
              for f in cfr_frames(recording, fps=FPS, start_s=START_S)]
    assert len(sought) == len(whole) - skip
    assert all(a is not None and np.array_equal(a, b)
               for a, b in zip(sought, whole[skip:], strict=True))


def test_sound_from_far_into_a_file(recording: Path) -> None:
    whole = AudioFeed(recording, rate=FS)
    skip = round(START_S * FS)
    while skip:
        skip -= whole.read(min(skip, FS)).shape[1]
    sought = AudioFeed(recording, rate=FS, start_s=START_S)
    a, b = sought.read(5 * FS), whole.read(5 * FS)
    assert np.sqrt(np.mean(b * b)) > 0.01          # sound, not the silence after the end
    assert np.abs(a - b).max() < 1e-6
