"""Reading a camera file from far into it (a lecture's ``start`` after the setting up, a second
lecture in the same recording, a camera switched on minutes before the others), against
FFmpeg seeking there, same run.

Generates one camera file (``--minutes`` of 1280×720 25p H.264, GOP 2 s, and AAC stereo; not
timed). Times the render's two readers, ``cfr_frames`` (the first picture at ``--at``) and
``AudioFeed`` (the first second of sound there), and the same with FFmpeg's input seek
(``-ss AT -i FILE``, one picture / one second of sound to ``-f null``). The ratio is the
readers' wall time over FFmpeg's.

    .venv/bin/python benchmarks/bench_seek.py --minutes 10 --at 540
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imageio_ffmpeg

from courseware.media import AudioFeed, cfr_frames

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--at", type=float, default=540.0, help="seconds into the file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "camera.mp4"
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                        "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i",
                        "anoisesrc=r=48000:c=pink:a=0.3", "-t", str(args.minutes * 60),
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac",
                        "-ac", "2", str(path)], check=True)

        def ffmpeg(*what: str) -> float:
            t = time.perf_counter()
            subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-ss", str(args.at),
                            "-i", str(path), *what, "-f", "null", "-"], check=True)
            return time.perf_counter() - t

        t = time.perf_counter()
        frames = cfr_frames(path, fps=25, start_s=args.at)
        first = next(frames)
        frames.close()
        picture = time.perf_counter() - t
        t = time.perf_counter()
        AudioFeed(path, rate=48000, start_s=args.at).read(48000)
        sound = time.perf_counter() - t
        assert first is not None
        ff_picture = ffmpeg("-an", "-frames:v", "1")
        ff_sound = ffmpeg("-vn", "-t", "1")
        print(f"{args.minutes:g}-min camera file, from {args.at:g} s:")
        print(f"  first picture: cfr_frames {picture:.3f} s, FFmpeg {ff_picture:.3f} s "
              f"({picture / ff_picture:.2f}x)")
        print(f"  first second of sound: AudioFeed {sound:.3f} s, FFmpeg {ff_sound:.3f} s "
              f"({sound / ff_sound:.2f}x)")


if __name__ == "__main__":
    main()
