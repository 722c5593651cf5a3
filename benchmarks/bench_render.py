"""Render benchmark: the pipeline vs one equivalent FFmpeg command on the same lecture.

Generates a sample lecture (``courseware sample``), renders it as the lecture flow does (offsets
measured by audio sync, the audio and video analysis passes, composite with colour correction,
cards, noise reduction, AAC CBR, x264 CBR) and with a single FFmpeg command doing the same
composite + afftdn + loudnorm + x264/AAC at the same settings (given the true offsets), each
in its own process, and prints wall time and peak memory (max RSS) of both and their ratio.
Run on an idle machine; record the figure with the machine in benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_render.py                  # 300-s lecture, one pair
    .venv/bin/python benchmarks/bench_render.py --seconds 60 --repeat 3

A lecture is about 60 minutes (A1). Each run pays about 8 s once: the Python and Prefect
imports, the sync and analysis passes before the first frame, and the cards. Those costs
weigh on a 60-s lecture and not on a real one. The default 300-s lecture is the shortest
run whose figure stands for the job; print the 60-s figure beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[1]

PIPELINE = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from courseware.course import load_course
from encoder_profiles import load_profile
from tasks.analyse_video import analyse_video
from tasks.probe import probe_lecture
from tasks.render import plan_audio, render_lecture
from tasks.sync import sync_sources
course = load_course(Path(sys.argv[1])); profile = load_profile()
lecture = course.lectures[0]
inputs = sync_sources(probe_lecture(course, lecture))
with ThreadPoolExecutor(2) as pool:  # as the lecture flow submits the two analysis tasks
    audio_pass = pool.submit(plan_audio, inputs, profile)
    video_pass = pool.submit(analyse_video, inputs, profile)
    audio, video = audio_pass.result(), video_pass.result()
render_lecture(course, inputs, audio=audio, video=video, profile=profile,
               out_dir=Path(sys.argv[2]))
measured = {r: round(s.offset_s, 3) for r, s in inputs.sources.items()}
print("offsets", json.dumps(measured), "colour", json.dumps(
    {r: p.gains for r, p in video.sources.items()}), file=sys.stderr)
"""


WRAPPER = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(use.ru_utime + use.ru_stime, use.ru_maxrss)
"""


def timed(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one command, measured in a wrapper
    process of its own (RUSAGE_CHILDREN is a maximum over all children: a fresh parent)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], check=True, cwd=ROOT,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    return time.perf_counter() - start, float(out[-2]), int(out[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="lecture length")
    parser.add_argument("--repeat", type=int, default=1,
                        help="FFmpeg/pipeline pairs to run (a shared machine's speed drifts "
                             "by ±10 %% between runs: compare within a pair, take the median)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from courseware.sample import make_sample
    from encoder_profiles import load_layout, load_profile

    profile = load_profile()
    enc = profile.encode
    with tempfile.TemporaryDirectory() as tmp:
        course = make_sample(Path(tmp) / "raw", lectures=1, seconds=args.seconds)
        truth = json.loads((course.parent / "sample-truth.json").read_text("utf-8"))
        offsets = truth["lectures"][0]["offsets"]  # both sides get the same (known) offsets
        lecture_dir = course.parent / "lecture01"
        # the same PiP geometry as encoder_profiles/layouts.yaml
        w, h = enc.width, enc.height
        region = {r.source: r for r in load_layout(enc.layout).regions}
        s, t = region["slides"], region["teacher"]
        sw, sh = round(s.w * w / 2) * 2, round(s.h * h / 2) * 2
        tw = round(t.w * w / 2) * 2
        th = round(tw * 9 / 16 / 2) * 2
        kbps = int(enc.video_bitrate_kbps)
        ffmpeg_cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error",
            "-ss", str(offsets["slides"]), "-i", str(lecture_dir / "slides.mp4"),
            "-ss", str(offsets["teacher"]), "-i", str(lecture_dir / "teacher.mp4"),
            "-filter_complex",
            f"color=c=0x182030:s={w}x{h}:r={profile.delivery.fps}[bg];"
            f"[0:v]scale={sw}:{sh}[s];[1:v]scale={tw}:{th}[t];"
            f"[bg][s]overlay={round(s.x * w)}:{round(s.y * h)}:shortest=1[b];"
            f"[b][t]overlay={round(t.x * w)}:{round(t.y * h)}:shortest=1,format=yuv420p[v];"
            # the sample's teacher microphone is ~36 dB over its room tone: the pipeline
            # lowers the noise by ~18 dB (S2), FFmpeg's afftdn likewise
            f"[1:a]afftdn=nr=18:nf=-58,"
            f"loudnorm=I={enc.loudness_target_lufs}:TP={enc.limiter_ceiling_dbfs},"
            f"aresample={profile.delivery.audio_rate}[a]",
            "-map", "[v]", "-map", "[a]", "-shortest",
            "-c:v", "libx264", "-preset", enc.preset, "-b:v", f"{kbps}k", "-maxrate",
            f"{kbps}k", "-minrate", f"{kbps}k", "-bufsize", f"{int(kbps * enc.vbv_buffer_s)}k",
            "-x264-params", "nal-hrd=cbr", "-r", str(profile.delivery.fps),
            "-c:a", "aac", "-b:a", f"{int(profile.delivery.audio_bitrate_kbps)}k",
            "-ac", "2", "-movflags", "+faststart", str(Path(tmp) / "ffmpeg.mp4"),
        ]
        pipeline_cmd = [sys.executable, "-c", PIPELINE, str(course), str(Path(tmp) / "out")]
        print(f"lecture {args.seconds:.0f} s, {os.cpu_count()} CPUs, {args.repeat} pair(s); "
              f"true offsets {json.dumps(offsets)}")
        ratios = []
        for k in range(args.repeat):  # FFmpeg then pipeline, back to back: same conditions
            ff_wall, ff_cpu, ff_mem = timed(ffmpeg_cmd)
            pl_wall, pl_cpu, pl_mem = timed(pipeline_cmd)
            ratios.append((pl_wall / ff_wall, pl_cpu / ff_cpu))
            print(f"[{k + 1}] ffmpeg   (composite + denoise + loudnorm + x264/AAC): "
                  f"{ff_wall:6.1f} s wall {ff_cpu:6.1f} s CPU  peak {ff_mem:5.0f} MiB")
            print(f"[{k + 1}] pipeline (analysis + cards + composite + CBR):       "
                  f"{pl_wall:6.1f} s "
                  f"wall {pl_cpu:6.1f} s CPU  peak {pl_mem:5.0f} MiB")
            print(f"[{k + 1}] ratio pipeline/ffmpeg: {ratios[-1][0]:.2f}× wall time, "
                  f"{ratios[-1][1]:.2f}× CPU time", flush=True)
    if len(ratios) > 1:
        print(f"median of {len(ratios)} pairs: {statistics.median(r[0] for r in ratios):.2f}× "
              f"wall time, {statistics.median(r[1] for r in ratios):.2f}× CPU time")


if __name__ == "__main__":
    main()
