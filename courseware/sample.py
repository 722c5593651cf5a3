"""A generated raw course with known answers (``courseware sample DIR``).

Per lecture a slides capture (1920×1080, static slides with Chinese and Latin text) and a
teacher camera (1280×720, room + moving figure, Gaussian sensor noise, a warm cast), both
with AAC audio of one synthetic speech signal; the teacher camera starts recording earlier
than the slides capture. Everything planted is written to ``sample-truth.json`` so sync,
colour, noise and loudness code can be tested against it (STYLE.md item 8).

Time convention: a "world" clock starts when the teacher camera starts, so teacher file
time = world time, and slides file time = world time − ``offset_s``. The same sound is at
``t_teacher = t_slides + offset_s``; in the course.yaml ``sources.offsets`` convention
(source time at lecture t = 0, lecture clock = slides clock) that is
``{slides: 0, teacher: offset_s}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

from courseware.course import load_course
from courseware.errors import PipelineError
from courseware.fonts import FontFace, find_face

FPS = 25
RATE = 48000
SPF = RATE // FPS  # audio samples per video frame
SLIDES_SIZE = (1920, 1080)
TEACHER_SIZE = (1280, 720)
TRUTH_NAME = "sample-truth.json"
BANK_NAME = "题库.csv"
GENERATOR = "courseware.sample"

# teacher camera starts this much before the slides capture, lecture n → OFFSETS[n - 1 + seed]
OFFSETS = (0.7, 1.3, 0.45, 1.05, 0.85)
TEACHER_TAIL_S = 0.5  # the camera is stopped a little after the slides capture
NOISE_SIGMA_Y = 2.0  # planted sensor noise, luma code values (V2 would want ≤ 0.389)
NOISE_SIGMA_C = 1.0  # chroma noise, code values
CAST_GAINS = (1.07, 1.0, 0.91)  # R'G'B' gains of the teacher camera: warm (+R −B), V3
SPEECH_PEAK_DBFS = -7.0  # clean speech peak; streams apply their gains to it
SLIDES_GAIN_DB = -3.5  # the capture box records the room a little quieter
TEACHER_NOISE_DBFS = -58.0  # room tone (RMS) at the camera mic
SLIDES_NOISE_DBFS = -62.0  # hiss (RMS) of the capture box input

SLIDES_X264 = {"preset": "veryfast", "crf": "23"}
# the camera's noise must survive coding (the test measures it): near-transparent quality
TEACHER_X264 = {"preset": "ultrafast", "crf": "14"}
_VUI = "colorprim=bt709:transfer=bt709:colormatrix=bt709"

# BT.709-6 luma coefficients, limited-range coding (qc_metrics.frames convention)
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB


def make_sample(out_dir: Path, *, lectures: int = 2, seconds: float = 12.0,
                seed: int = 0) -> Path:
    """Write a raw sample course into ``out_dir``; return the path of its course.yaml.

    Refuses (PipelineError) a non-empty folder that an earlier make_sample did not write.
    """
    out_dir = Path(out_dir)
    if lectures < 1 or seconds < 2.0:
        raise PipelineError(
            f"sample: need at least 1 lecture of at least 2 s, got {lectures} × {seconds} s")
    _claim(out_dir)
    font = find_face()
    files = ["course.yaml", "intro.mp4", BANK_NAME, TRUTH_NAME]
    files += [f"{_lecture_dir(n)}/{name}" for n in range(1, lectures + 1)
              for name in ("slides.mp4", "teacher.mp4")]
    # written first, so an interrupted run can be redone in the same folder
    _write_json(out_dir / TRUTH_NAME, {"generator": GENERATOR, "complete": False, "files": files})

    intro = _write_intro(out_dir / "intro.mp4", font)
    truths = [_write_lecture(out_dir, n, seconds=seconds, seed=seed, font=font)
              for n in range(1, lectures + 1)]
    _write_bank(out_dir / BANK_NAME, lectures)
    course_file = out_dir / "course.yaml"
    course_file.write_text(_course_yaml(lectures), encoding="utf-8")
    load_course(course_file)  # the sample must always be a valid course file
    _write_json(out_dir / TRUTH_NAME, {
        "generator": GENERATOR, "complete": True, "seed": seed, "seconds": seconds,
        "conventions": {
            "world_clock": "starts when the teacher camera starts; teacher time = world time",
            "offset_s": "teacher camera started offset_s before the slides capture: the same "
                        "sound is at t_teacher = t_slides + offset_s",
            "offsets": "course.yaml sources.offsets convention (source time at lecture t = 0, "
                       "lecture clock = slides clock)",
            "video": "8-bit yuv420p, BT.709 limited range; noise sigma in luma code values, "
                     "planted before H.264 coding (coding removes a little of it)",
            "audio": "levels in dBFS of the float signal before AAC coding; rms of a full-scale "
                     "sine is -3 dBFS; intervals are phrase-level speech in that file's time",
        },
        "intro": intro, "lectures": truths, "files": files,
    })
    return course_file


# --------------------------------------------------------------------------- folder safety

def _claim(out_dir: Path) -> None:
    """Make ``out_dir`` ready: new/empty, or an earlier sample whose files are removed."""
    if out_dir.exists() and not out_dir.is_dir():
        raise PipelineError(f"sample: {out_dir} exists and is not a folder; choose another path")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        out_dir.mkdir(parents=True, exist_ok=True)
        return
    truth = out_dir / TRUTH_NAME
    try:
        old = json.loads(truth.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict) or old.get("generator") != GENERATOR:
        raise PipelineError(
            f"sample: {out_dir} is not empty and was not written by `courseware sample` "
            f"(no {TRUTH_NAME} of its own); refusing to overwrite it: choose a new or empty folder")
    for rel in old.get("files", []):
        path = (out_dir / rel).resolve()
        if path.is_relative_to(out_dir.resolve()) and path.is_file():
            path.unlink()
            if path.parent != out_dir.resolve() and not any(path.parent.iterdir()):
                path.parent.rmdir()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _lecture_dir(number: int) -> str:
    return f"lecture{number:02d}"


# --------------------------------------------------------------------------- one lecture

def _write_lecture(out_dir: Path, number: int, *, seconds: float, seed: int,
                   font: FontFace) -> dict[str, Any]:
    folder = out_dir / _lecture_dir(number)
    folder.mkdir(exist_ok=True)
    offset = OFFSETS[(number - 1 + seed) % len(OFFSETS)]
    n_slides_frames = round(seconds * FPS)
    n_teacher_frames = round((offset + seconds + TEACHER_TAIL_S) * FPS)
    rng = np.random.default_rng([seed, number])

    # one speech signal on the world clock; each device hears it its own way
    clean, phrases = _speech(n_teacher_frames * SPF, rng)
    shift = round(offset * RATE)
    teacher_audio, teacher_levels = _pick_up(
        clean, gain_db=0.0, noise_dbfs=TEACHER_NOISE_DBFS, lowpass=1, room_tone=True, rng=rng)
    slides_audio, slides_levels = _pick_up(
        clean[shift: shift + n_slides_frames * SPF], gain_db=SLIDES_GAIN_DB,
        noise_dbfs=SLIDES_NOISE_DBFS, lowpass=5, room_tone=False, rng=rng)

    slides = _slide_plan(number, n_slides_frames, rng, font)
    _write_slides(folder / "slides.mp4", slides, n_slides_frames, slides_audio)
    mouth = _frame_envelope(clean)
    box = _write_teacher(folder / "teacher.mp4", n_teacher_frames, teacher_audio, mouth,
                         rng=rng, font=font)

    return {
        "number": number,
        "dir": _lecture_dir(number),
        "offset_s": offset,
        "offsets": {"slides": 0.0, "teacher": offset},
        "slides": {
            "path": f"{_lecture_dir(number)}/slides.mp4",
            "width": SLIDES_SIZE[0], "height": SLIDES_SIZE[1], "fps": FPS,
            "frames": n_slides_frames, "duration_s": n_slides_frames / FPS,
            "x264": SLIDES_X264,
            "slide_changes_s": [start / FPS for _, start in slides[1:]],
            "audio": {**slides_levels, "gain_db": SLIDES_GAIN_DB, "lowpass_taps": 5,
                      "speech_intervals_s": _shifted(phrases, -offset, n_slides_frames / FPS)},
        },
        "teacher": {
            "path": f"{_lecture_dir(number)}/teacher.mp4",
            "width": TEACHER_SIZE[0], "height": TEACHER_SIZE[1], "fps": FPS,
            "frames": n_teacher_frames, "duration_s": n_teacher_frames / FPS,
            "x264": TEACHER_X264,
            "noise_sigma": NOISE_SIGMA_Y, "noise_sigma_chroma": NOISE_SIGMA_C,
            "colour_cast": {
                "rgb_gains": list(CAST_GAINS),
                "wall_rgb": list(_WALL), "wall_rgb_cast": list(_cast_rgb(_WALL)),
                "whiteboard_rgb": list(_BOARD), "whiteboard_rgb_cast": list(_cast_rgb(_BOARD)),
            },
            "static_wall_box": box,  # [x0, y0, x1, y1]: flat wall never covered by the figure
            "audio": {**teacher_levels, "gain_db": 0.0, "lowpass_taps": 1,
                      "speech_intervals_s": _shifted(phrases, 0.0, n_teacher_frames / FPS)},
        },
    }


def _shifted(intervals: Sequence[tuple[float, float]], by: float,
             length: float) -> list[list[float]]:
    out = []
    for a, b in intervals:
        a, b = max(0.0, a + by), min(length, b + by)
        if b > a:
            out.append([round(a, 4), round(b, 4)])
    return out


# --------------------------------------------------------------------------- writing MP4

class _Mp4:
    """One H.264 + AAC (48 kHz stereo, 128 kbps) MP4, interleaved frame by frame."""

    def __init__(self, path: Path, size: tuple[int, int], x264: dict[str, str]) -> None:
        self.container = av.open(str(path), "w", format="mp4",
                                 options={"movflags": "+faststart"})
        v = self.container.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        v.codec_context.options = {**x264, "x264-params": _VUI}
        v.codec_context.thread_type = "FRAME"  # x264 frame threads: faster than sliced here
        a = self.container.add_stream("aac", rate=RATE, layout="stereo")
        a.bit_rate = 128_000
        a.codec_context.options = {"aac_coder": "fast"}  # ~4× faster than twoloop; fine here
        self.video, self.audio = v, a
        self.frames = self.samples = 0

    def write(self, frame: av.VideoFrame, audio: np.ndarray) -> None:
        """One video frame and its SPF samples of (2, SPF) float audio."""
        frame.pts, frame.time_base = self.frames, Fraction(1, FPS)
        self.frames += 1
        self.container.mux(self.video.encode(frame))
        # PyAV re-blocks audio into the encoder's 1024-sample frames
        af = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio, dtype=np.float32),
                                        format="fltp", layout="stereo")
        af.sample_rate, af.pts, af.time_base = RATE, self.samples, Fraction(1, RATE)
        self.samples += audio.shape[1]
        self.container.mux(self.audio.encode(af))

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        self.container.mux(self.audio.encode(None))
        self.container.close()


def _yuv_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    h, w = y.shape
    stacked = np.concatenate([y, u.reshape(h // 4, w), v.reshape(h // 4, w)])
    return av.VideoFrame.from_ndarray(stacked, format="yuv420p")


def _rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R'G'B' uint8/float (H, W, 3) → float Y (H, W) and 4:2:0 Cb, Cr, BT.709 limited."""
    f = rgb.astype(np.float32) * np.float32(1 / 255)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    yl = _KR * r + _KG * g + _KB * b
    # 4:2:0: chroma of the 2×2 block means (Cb, Cr are linear in R'G'B')
    rq, bq, yq = (0.25 * (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2])
                  for c in (r, b, yl))
    cb = 128 + (224 / (2 * (1 - _KB))) * (bq - yq)
    cr = 128 + (224 / (2 * (1 - _KR))) * (rq - yq)
    return 16 + 219 * yl, cb, cr


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _stereo(mono: np.ndarray) -> np.ndarray:
    return np.stack([mono, mono]).astype(np.float32)


# --------------------------------------------------------------------------- speech

# (F1, F2, F3) Hz of a few vowels (Peterson & Barney 1952, rounded)
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240),
           (530, 1840, 2480), (570, 840, 2410), (660, 1720, 2410))
_TONES = ((0.0, 0.0, 0.0), (-15.0, 0.0, 20.0), (-10.0, -25.0, 10.0), (25.0, 5.0, -25.0))


def _speech(n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Speech-like mono signal of n samples (peak SPEECH_PEAK_DBFS) and its phrases (s).

    Voiced syllables (harmonics of f0 in 100–220 Hz with declination and Mandarin-like tones,
    vowel formants), ~4 syllables/s, short word gaps and 0.3–1.2 s pauses between phrases.
    """
    out = np.zeros(n, np.float64)
    total = n / RATE
    t = float(rng.uniform(0.2, 0.5))
    phrases: list[tuple[float, float]] = []
    while True:
        plan: list[tuple[float, float]] = []
        c = t
        for _ in range(int(rng.integers(2, 6))):  # words
            for _ in range(int(rng.integers(1, 4))):  # syllables
                dur = float(rng.uniform(0.17, 0.29))
                plan.append((c, dur))
                c += dur + float(rng.uniform(0.0, 0.03))
            c += float(rng.uniform(0.06, 0.16))
        plan = [(s, d) for s, d in plan if s + d < total - 0.15]
        if not plan:
            break
        f0_hi, f0_lo = float(rng.uniform(175, 205)), float(rng.uniform(110, 135))
        for i, (start, dur) in enumerate(plan):
            base = f0_hi + (f0_lo - f0_hi) * i / max(1, len(plan) - 1)
            tone = _TONES[int(rng.integers(len(_TONES)))]
            vowel = _VOWELS[int(rng.integers(len(_VOWELS)))]
            seg = _syllable(dur, base, tone, vowel, float(rng.uniform(0.55, 1.0)), rng)
            a = round(start * RATE)
            out[a: a + seg.size] += seg[: max(0, n - a)]
        phrases.append((plan[0][0] - 0.05, plan[-1][0] + plan[-1][1]))
        t = plan[-1][0] + plan[-1][1] + float(rng.uniform(0.3, 1.2))  # pause
        if t > total:
            break
    peak = np.max(np.abs(out))
    if peak > 0:
        out *= 10 ** (SPEECH_PEAK_DBFS / 20) / peak
    return out, phrases


def _syllable(dur: float, f0: float, tone: tuple[float, float, float],
              formants: tuple[int, int, int], level: float,
              rng: np.random.Generator) -> np.ndarray:
    """One syllable: optional fricative onset (50 ms) + voiced harmonic vowel."""
    ns = round(dur * RATE)
    tt = np.arange(ns) / ns
    contour = np.interp(tt, (0.0, 0.5, 1.0), tone)
    f0_t = np.clip(f0 + contour, 100.0, 220.0)
    phase = 2 * np.pi * np.cumsum(f0_t) / RATE + rng.uniform(0, 2 * np.pi)
    k = np.arange(1, int(5000 // f0) + 1)
    fk = k * f0
    amp = sum(g / np.sqrt(1 + ((fk - f) / bw) ** 2)
              for f, bw, g in zip(formants, (60, 80, 120), (1.0, 0.7, 0.35), strict=True))
    amp = amp / (1 + fk / 400)  # glottal spectral tilt
    voiced = (amp[:, None] * np.sin(k[:, None] * phase[None, :])).sum(axis=0)
    env = np.minimum(1.0, np.minimum(tt * dur / 0.03, (1 - tt) * dur / 0.07)) ** 1.5
    env *= 1 + 0.15 * np.sin(np.pi * tt)
    voiced *= level * env / (np.sqrt(np.mean(voiced**2)) + 1e-12)
    if rng.random() < 0.5:  # a consonant: short high-passed noise burst before the vowel
        nb = round(0.05 * RATE)
        burst = np.diff(rng.standard_normal(nb + 1)) * np.linspace(0.05, 0.35, nb) * level
        return np.concatenate([burst, voiced])
    return voiced


def _pick_up(clean: np.ndarray, *, gain_db: float, noise_dbfs: float, lowpass: int,
             room_tone: bool, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """What a microphone records: gain, a zero-phase low-pass, own noise (per channel)."""
    sig = clean * 10 ** (gain_db / 20)
    if lowpass > 1:  # symmetric FIR: no delay, the planted offset stays exact
        sig = np.convolve(sig, np.ones(lowpass) / lowpass, mode="same")
    noise = np.stack([_noise(sig.size, noise_dbfs, pink=room_tone, rng=rng) for _ in range(2)])
    stereo = (sig[None, :] + noise).astype(np.float32)
    voiced = np.abs(sig) > 10 ** ((noise_dbfs + 20) / 20)
    speech_rms = np.sqrt(np.mean(sig[voiced] ** 2)) if voiced.any() else 0.0
    levels = {
        "rate": RATE, "channels": 2,
        "peak_dbfs": round(_db(np.max(np.abs(stereo))), 2),
        "speech_rms_dbfs": round(_db(speech_rms), 2),
        "noise_floor_dbfs": round(_db(np.sqrt(np.mean(noise**2))), 2),
    }
    return stereo, levels


def _noise(n: int, dbfs: float, *, pink: bool, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of RMS ``dbfs``; room tone leans to low frequencies (1/f-ish)."""
    white = rng.standard_normal(n)
    if pink:
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / RATE)
        white = np.fft.irfft(spec / np.sqrt(1 + f / 200), n)
    return white * 10 ** (dbfs / 20) / np.sqrt(np.mean(white**2))


def _db(x: float) -> float:
    return 20 * math.log10(max(float(x), 1e-12))


def _frame_envelope(clean: np.ndarray) -> np.ndarray:
    """Speech level per teacher video frame, 0…1 (drives the mouth)."""
    rms = np.sqrt(np.mean(clean[: clean.size // SPF * SPF].reshape(-1, SPF) ** 2, axis=1))
    return rms / (rms.max() + 1e-12)


# --------------------------------------------------------------------------- slides

_TITLES = ("“双碳”目标的由来与政策框架", "能源结构转型与低碳技术路径",
           "碳市场、碳核算与企业减排", "陕西省绿色低碳发展实践")
_SLIDES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("为什么要实现“双碳”目标", (
        "全球温升控制在 1.5 °C 以内（Paris Agreement, 2015）",
        "中国承诺：2030 年前碳达峰，2060 年前碳中和",
        "CO2 排放主要来自能源、工业、交通和建筑",
        "Key metric: tCO2e per 10,000 yuan of GDP"), "bar"),
    ("政策框架：“1+N” 政策体系", (
        "“1”：顶层设计意见（2021 年 10 月）",
        "“N”：能源、工业、城乡建设、交通等行动方案",
        "Targets: non-fossil share 25% by 2030",
        "地方落实：省级碳达峰实施方案"), "table"),
    ("能源结构转型", (
        "非化石能源占比持续提高",
        "煤电由主体电源转向调节性电源",
        "Wind + PV capacity > 1,200 GW by 2030",
        "电网灵活性：储能、需求响应"), "line"),
    ("低碳技术路径", (
        "光伏 PV：LCOE 十年下降约 80%",
        "风电 Wind power：海上与陆上并进",
        "储能 Energy storage：抽水蓄能、锂电池",
        "CCUS：碳捕集、利用与封存"), "bar"),
    ("碳市场与 MRV", (
        "全国碳市场 2021 年 7 月启动（电力行业先行）",
        "MRV = Monitoring, Reporting, Verification",
        "配额分配：基准线法 / 历史强度法",
        "企业碳核算：范围一、范围二、范围三"), "table"),
    ("案例：陕西省绿色低碳发展", (
        "榆林：煤化工 + CCUS 示范项目",
        "关中：装备制造业节能降碳改造",
        "陕南：水电与生态碳汇",
        "Lesson learned: data first, then targets"), "line"),
)


def _slide_plan(number: int, frames: int, rng: np.random.Generator,
                font: FontFace) -> list[tuple[np.ndarray, int]]:
    """Slides (RGB images) and their first frame: a change every ~4 s, at least two."""
    count = max(2, round(frames / FPS / 4))
    cuts = [0]
    for i in range(1, count):
        jitter = rng.uniform(-0.1, 0.1) * frames / count
        cuts.append(round(i * frames / count + jitter))
    specs = [_SLIDES[((number - 1) * 3 + i) % len(_SLIDES)] for i in range(count)]
    return [(_render_slide(spec, number, i + 1, count, rng, font), cut)
            for i, (spec, cut) in enumerate(zip(specs, cuts, strict=True))]


def _render_slide(spec: tuple[str, tuple[str, ...], str], number: int, page: int, pages: int,
                  rng: np.random.Generator, font: FontFace) -> np.ndarray:
    title, bullets, chart = spec
    w, h = SLIDES_SIZE
    img = Image.new("RGB", (w, h), (250, 250, 246))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w, 132), fill=(22, 64, 120))
    d.rectangle((0, 132, w, 140), fill=(214, 170, 72))
    head = f"第{number}讲 · {title}"
    tag = "Carbon Peaking & Carbon Neutrality"
    for text in (head, tag, *bullets):
        font.require(text, what="a sample slide")
    d.text((70, 68), head, font=font.pil(54, weight=700), fill=(255, 255, 255), anchor="lm")
    d.text((w - 60, 68), tag, font=font.pil(26), fill=(190, 205, 225), anchor="rm")
    body = font.pil(38)
    y = 230
    for text in bullets:
        d.rectangle((92, y - 7, 106, y + 7), fill=(22, 64, 120))
        d.text((130, y), text, font=body, fill=(30, 30, 36), anchor="lm")
        y += 112
    box = (1110, 220, 1840, 900)
    {"bar": _bar_chart, "line": _line_chart, "table": _table}[chart](d, box, rng, font)
    d.line((60, 1000, w - 60, 1000), fill=(200, 200, 200), width=2)
    small = font.pil(26)
    d.text((60, 1036), "碳达峰碳中和与绿色低碳发展（示例课件）", font=small, fill=(110, 110, 110),
           anchor="lm")
    d.text((w - 60, 1036), f"{page} / {pages}", font=small, fill=(110, 110, 110), anchor="rm")
    return np.asarray(img)


def _bar_chart(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
               rng: np.random.Generator, font: FontFace) -> None:
    x0, y0, x1, y1 = box
    labels = ("能源", "工业", "交通", "建筑", "其他")
    values = rng.dirichlet(np.array([24.0, 15.0, 6.0, 6.0, 3.0])) * 100
    d.text(((x0 + x1) // 2, y0), "碳排放占比 Share of CO2 (%)", font=font.pil(32, weight=700),
           fill=(30, 30, 36), anchor="mt")
    base, top = y1 - 60, y0 + 80
    d.line((x0 + 40, base, x1 - 20, base), fill=(60, 60, 60), width=3)
    step = (x1 - x0 - 80) / len(labels)
    scale = (base - top) / float(values.max())
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bx = x0 + 60 + i * step
        d.rectangle((bx, base - value * scale, bx + step * 0.6, base),
                    fill=(46, 125, 50) if i else (214, 120, 40))
        d.text((bx + step * 0.3, base - value * scale - 8), f"{value:.0f}",
               font=font.pil(26), fill=(30, 30, 36), anchor="mb")
        d.text((bx + step * 0.3, base + 12), label, font=font.pil(28), fill=(60, 60, 60),
               anchor="mt")


def _line_chart(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
                rng: np.random.Generator, font: FontFace) -> None:
    x0, y0, x1, y1 = box
    years = np.arange(2020, 2061, 10)
    share = np.cumsum(np.r_[16.0, rng.uniform(8, 20, years.size - 1)]).clip(max=90)
    d.text(((x0 + x1) // 2, y0), "非化石能源占比 Non-fossil share (%)",
           font=font.pil(32, weight=700), fill=(30, 30, 36), anchor="mt")
    left, base, top, right = x0 + 70, y1 - 60, y0 + 80, x1 - 30
    for level in range(0, 101, 25):
        yy = base - (base - top) * level / 100
        d.line((left, yy, right, yy), fill=(215, 215, 215), width=1)
        d.text((left - 12, yy), str(level), font=font.pil(22), fill=(90, 90, 90), anchor="rm")
    pts = [(left + (right - left) * i / (years.size - 1), base - (base - top) * s / 100)
           for i, s in enumerate(share)]
    d.line(pts, fill=(21, 101, 192), width=6)
    for (px, py), year in zip(pts, years, strict=True):
        d.ellipse((px - 9, py - 9, px + 9, py + 9), fill=(21, 101, 192))
        d.text((px, base + 14), str(year), font=font.pil(24), fill=(60, 60, 60), anchor="mt")


def _table(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int],
           rng: np.random.Generator, font: FontFace) -> None:
    x0, y0, x1, _ = box
    rows = [("年份 Year", "目标 Target", "进度 Status")]
    for year in (2025, 2030, 2035, 2060):
        rows.append((str(year), f"{rng.uniform(15, 80):.1f}%", rng.choice(["规划中", "推进中",
                                                                           "on track"])))
    cell_h, cols = 92, (x0, x0 + 200, x0 + 470, x1)
    cell = font.pil(30)
    for r, row in enumerate(rows):
        top = y0 + 40 + r * cell_h
        d.rectangle((x0, top, x1, top + cell_h), fill=(22, 64, 120) if r == 0 else
                    ((236, 241, 248) if r % 2 else (250, 250, 246)), outline=(150, 160, 175))
        for c, text in enumerate(row):
            d.text(((cols[c] + cols[c + 1]) // 2, top + cell_h // 2), text, font=cell,
                   fill=(255, 255, 255) if r == 0 else (30, 30, 36), anchor="mm")


def _write_slides(path: Path, slides: list[tuple[np.ndarray, int]], frames: int,
                  audio: np.ndarray) -> None:
    mp4 = _Mp4(path, SLIDES_SIZE, SLIDES_X264)
    try:
        bounds = [cut for _, cut in slides[1:]] + [frames]
        i = 0
        for (rgb, _), end in zip(slides, bounds, strict=True):
            frame = _yuv_frame(*(_u8(p) for p in _rgb_to_yuv(rgb)))  # converted once per slide
            for _ in range(i, end):
                mp4.write(frame, audio[:, i * SPF: (i + 1) * SPF])
                i += 1
    finally:
        mp4.close()


# --------------------------------------------------------------------------- teacher camera

_WALL = (182, 182, 180)
_BOARD = (226, 226, 224)
_DESK = (128, 88, 56)


def _cast_rgb(rgb: Sequence[float]) -> tuple[int, ...]:
    return tuple(min(255, round(c * g)) for c, g in zip(rgb, CAST_GAINS, strict=True))


def _room(font: FontFace) -> tuple[Image.Image, int, list[int]]:
    """Background R'G'B' (no cast yet), the desk's top row and a static flat wall box."""
    w, h = TEACHER_SIZE
    img = Image.new("RGB", (w, h), _WALL)
    d = ImageDraw.Draw(img)
    for y in range(int(h * 0.62)):  # a soft light falloff towards the ceiling
        k = 0.94 + 0.06 * y / (h * 0.62)
        d.line((0, y, w, y), fill=tuple(round(c * k) for c in _WALL))
    d.rectangle((0, int(h * 0.62), w, h), fill=(150, 146, 140))  # floor
    bx0, by0, bx1, by1 = int(w * 0.22), int(h * 0.14), int(w * 0.78), int(h * 0.58)
    d.rectangle((bx0 - 8, by0 - 8, bx1 + 8, by1 + 8), fill=(150, 152, 156))  # frame
    d.rectangle((bx0, by0, bx1, by1), fill=_BOARD)
    d.rectangle((bx0 + 40, by1, bx1 - 40, by1 + 10), fill=(120, 122, 126))  # marker tray
    marker = (30, 60, 150)
    d.text((bx0 + 30, by0 + 30), "碳达峰 → 碳中和", font=font.pil(int(h * 0.06)), fill=marker)
    d.text((bx0 + 30, by0 + 30 + int(h * 0.08)), "2030 / 2060", font=font.pil(int(h * 0.05)),
           fill=(170, 40, 40))
    xs = np.linspace(bx1 - 330, bx1 - 40, 40)
    ys = by1 - 40 - 160 * np.exp(-(((xs - (bx1 - 220)) / 90) ** 2))
    d.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=marker, width=4)
    d.line((bx1 - 340, by1 - 30, bx1 - 30, by1 - 30), fill=marker, width=3)
    cx, cy, r = int(w * 0.9), int(h * 0.14), int(h * 0.05)  # a wall clock
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(245, 245, 242), outline=(60, 60, 60),
              width=4)
    d.line((cx, cy, cx, cy - r * 0.7), fill=(40, 40, 40), width=4)
    d.line((cx, cy, cx + r * 0.5, cy + r * 0.2), fill=(40, 40, 40), width=4)
    desk_top = int(h * 0.74)
    d.rectangle((int(w * 0.12), desk_top, int(w * 0.88), h), fill=_DESK)
    d.rectangle((int(w * 0.12), desk_top, int(w * 0.88), desk_top + 12), fill=(150, 108, 72))
    d.rectangle((int(w * 0.6), desk_top - 50, int(w * 0.7), desk_top), fill=(40, 40, 44))  # laptop
    wall_box = [16, 16, int(w * 0.16) // 2 * 2, int(h * 0.1) // 2 * 2]
    return img, desk_top, wall_box


def _figure(draw: ImageDraw.ImageDraw, cx: float, top: float, scale: float, arm: float,
            mouth: float) -> None:
    """A person: head, hair, torso, two arms (the right one gestures), mouth opening."""
    head = 0.085 * scale
    shirt, skin, hair = (44, 72, 118), (226, 184, 150), (40, 32, 30)
    sy = top + 2.2 * head  # shoulders
    draw.rounded_rectangle((cx - 1.5 * head, sy, cx + 1.5 * head, sy + 6 * head),
                           radius=int(head * 0.6), fill=shirt)
    draw.rectangle((cx - 0.35 * head, sy - 0.4 * head, cx + 0.35 * head, sy + 0.2 * head),
                   fill=skin)  # neck
    draw.ellipse((cx - head, top, cx + head, top + 2.3 * head), fill=skin)
    draw.chord((cx - 1.05 * head, top - 0.1 * head, cx + 1.05 * head, top + 1.3 * head),
               180, 360, fill=hair)
    for ex in (-0.4, 0.4):
        draw.ellipse((cx + ex * head - 5, top + 1.0 * head - 5, cx + ex * head + 5,
                      top + 1.0 * head + 5), fill=(30, 30, 30))
    mh = 2 + mouth * 0.35 * head
    draw.ellipse((cx - 0.3 * head, top + 1.7 * head - mh / 2, cx + 0.3 * head,
                  top + 1.7 * head + mh / 2), fill=(120, 40, 40))
    width = int(0.55 * head)
    # left arm hangs; right arm: shoulder → elbow → hand, angle ``arm`` (rad from down)
    lx = cx - 1.35 * head
    draw.line((lx, sy + 0.3 * head, lx - 0.3 * head, sy + 4.2 * head), fill=shirt, width=width)
    rx, ry = cx + 1.35 * head, sy + 0.3 * head
    ex_, ey = rx + 2.0 * head * math.sin(arm * 0.6), ry + 2.0 * head * math.cos(arm * 0.6)
    hx, hy = ex_ + 1.9 * head * math.sin(arm), ey - 1.9 * head * math.cos(arm) * 0.8
    draw.line((rx, ry, ex_, ey, hx, hy), fill=shirt, width=width, joint="curve")
    draw.ellipse((hx - 0.35 * head, hy - 0.35 * head, hx + 0.35 * head, hy + 0.35 * head),
                 fill=skin)


def _write_teacher(path: Path, frames: int, audio: np.ndarray, mouth: np.ndarray, *,
                   rng: np.random.Generator, font: FontFace) -> list[int]:
    w, h = TEACHER_SIZE
    room, desk_top, wall_box = _room(font)
    gains = np.array(CAST_GAINS, np.float32)
    room_rgb = np.asarray(room)
    y_room, u_room, v_room = _rgb_to_yuv(np.clip(room_rgb * gains, 0, 255))
    pad = 16
    noise_y = [rng.normal(0, NOISE_SIGMA_Y, (h + pad, w + pad)).astype(np.float32)
               for _ in range(2)]
    noise_c = [rng.normal(0, NOISE_SIGMA_C, (h // 2 + pad, w // 2 + pad)).astype(np.float32)
               for _ in range(2)]
    scale = h  # figure size unit
    top = int(h * 0.2)
    half = int(0.33 * scale) // 2 * 2
    y0, y1 = top - 8, desk_top // 2 * 2  # figure crop rows (the desk hides the rest)
    phase = rng.uniform(0, 2 * np.pi, 3)
    mp4 = _Mp4(path, TEACHER_SIZE, TEACHER_X264)
    try:
        for i in range(frames):
            t = i / FPS
            cx = w / 2 + w * 0.2 * math.sin(2 * math.pi * t / 11 + phase[0]) \
                + w * 0.03 * math.sin(2 * math.pi * t / 3.7 + phase[1])
            arm = 0.35 + 0.9 * max(0.0, math.sin(2 * math.pi * t / 2.9 + phase[2])) ** 2
            x0 = max(0, min(w - 2 * half, int(cx) // 2 * 2 - half))
            crop = room.crop((x0, y0, x0 + 2 * half, y1))
            _figure(ImageDraw.Draw(crop), cx - x0, top - y0, scale, arm,
                    float(mouth[min(i, mouth.size - 1)]))
            cy, cu, cv = _rgb_to_yuv(np.clip(np.asarray(crop) * gains, 0, 255))
            yf, u, v = y_room.copy(), u_room.copy(), v_room.copy()
            yf[y0:y1, x0: x0 + 2 * half] = cy
            u[y0 // 2: y1 // 2, x0 // 2: x0 // 2 + half] = cu
            v[y0 // 2: y1 // 2, x0 // 2: x0 // 2 + half] = cv
            dy, dx = (int(a) for a in rng.integers(0, pad, 2))
            k = i % 2  # consecutive frames never share a noise field
            yf += noise_y[k][dy: dy + h, dx: dx + w]
            u += noise_c[k][dy: dy + h // 2, dx: dx + w // 2]
            v += noise_c[1 - k][dy: dy + h // 2, dx: dx + w // 2]
            mp4.write(_yuv_frame(_u8(yf), _u8(u), _u8(v)), audio[:, i * SPF: (i + 1) * SPF])
    finally:
        mp4.close()
    return wall_box


# --------------------------------------------------------------------------- intro clip

def _write_intro(path: Path, font: FontFace) -> dict[str, Any]:
    """A3 stand-in: 3 s card with fade in/out and a four-note jingle."""
    w, h = SLIDES_SIZE
    seconds = 3.0
    title = "陕西省专业技术人员继续教育 · 统一片头（示例）"
    sub = "Shaanxi Continuing Education · unified opening clip (sample)"
    font.require(title + sub, what="the sample intro")
    img = Image.new("RGB", (w, h), (14, 38, 80))
    d = ImageDraw.Draw(img)
    d.rectangle((0, int(h * 0.62), w, int(h * 0.62) + 8), fill=(214, 170, 72))
    d.text((w // 2, int(h * 0.45)), title, font=font.pil(72, weight=700), fill=(245, 245, 240),
           anchor="mm")
    d.text((w // 2, int(h * 0.7)), sub, font=font.pil(36), fill=(190, 205, 225), anchor="mm")
    y, u, v = _rgb_to_yuv(np.asarray(img))
    frames = round(seconds * FPS)
    t = np.arange(frames * SPF) / RATE
    notes = (523.25, 659.25, 783.99, 1046.5)  # C5 E5 G5 C6
    tune = np.zeros_like(t)
    for j, f in enumerate(notes):
        start = 0.3 + 0.35 * j
        on = t >= start
        dt = np.where(on, t - start, 0)
        tune += on * np.exp(-dt * 2.2) * (np.sin(2 * np.pi * f * t)
                                          + 0.3 * np.sin(4 * np.pi * f * t))
    tune *= np.clip(np.minimum(t / 0.02, (seconds - t) / 0.3), 0, 1)
    tune *= 10 ** (-9 / 20) / np.max(np.abs(tune))
    audio = _stereo(tune)
    mp4 = _Mp4(path, SLIDES_SIZE, SLIDES_X264)
    try:
        for i, frame in enumerate(_faded(y, u, v, frames, fade=12)):
            mp4.write(frame, audio[:, i * SPF: (i + 1) * SPF])
    finally:
        mp4.close()
    return {"path": "intro.mp4", "width": w, "height": h, "fps": FPS, "frames": frames,
            "duration_s": frames / FPS, "notes_hz": list(notes), "peak_dbfs": -9.0}


def _faded(y: np.ndarray, u: np.ndarray, v: np.ndarray, frames: int,
           fade: int) -> Iterator[av.VideoFrame]:
    full = _yuv_frame(_u8(y), _u8(u), _u8(v))
    for i in range(frames):
        k = min(1.0, (i + 1) / fade, (frames - i) / fade)
        if k >= 1.0:
            yield full
        else:
            yield _yuv_frame(_u8(16 + (y - 16) * k), _u8(128 + (u - 128) * k),
                             _u8(128 + (v - 128) * k))


# --------------------------------------------------------------------------- question bank


def _write_bank(path: Path, lectures: int) -> None:
    """A placeholder bank in the platform template with the counts Q3 asks for (from the
    profile): every question says it is a demo, every stem is distinct."""
    from courseware.bank import write_bank_rows
    from encoder_profiles import load_profile

    need = load_profile().bank.minimums
    topics = ("碳达峰", "碳中和", "清洁能源", "节能减排", "绿色建筑", "碳排放权交易")
    rows = []
    for kind, count in need.items():
        for i in range(count):
            topic, lecture = topics[i % len(topics)], str(i % lectures + 1)
            if kind == "single":
                rows.append(["单选",
                             f"（示例题）关于{topic}，第{i + 1}号单选题的正确说法是（　）。",
                             f"说法甲{i}", f"说法乙{i}", f"说法丙{i}", f"说法丁{i}", "", "",
                             "B", lecture, "示例解析：乙正确。"])
            elif kind == "multiple":
                rows.append(["多选",
                             f"（示例题）下列关于{topic}的第{i + 1}组表述中，正确的有（　）。",
                             "表述一", "表述二", "表述三", "表述四", "", "", "ACD", lecture, ""])
            else:
                rows.append(["判断", f"（示例题）{topic}相关判断第{i + 1}条：该表述符合规范要求。",
                             "", "", "", "", "", "", "正确" if i % 2 == 0 else "错误",
                             lecture, ""])
    write_bank_rows(rows, path)


# --------------------------------------------------------------------------- course.yaml

_LECTURERS = (("wang", "王建华", "教授", "西安交通大学能源与动力工程学院"),
              ("li", "李敏", "高级工程师", "陕西省环境科学研究院"))


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _course_yaml(lectures: int) -> str:
    lines = [
        "# 课程描述文件（course.yaml）：培训基地随录像一起提交。",
        "# 由 `courseware sample` 生成的示例；字段含义见注释。路径相对于本文件所在目录。",
        "# 注意：示例每讲只有几秒，故意不满足 A2（每讲约 60 分钟），用于试运行流水线。",
        "",
        "course:",
        f"  name: {_q('碳达峰碳中和与绿色低碳发展')}   # 科目名称（≤100 字）",
        "  kind: professional         # public = 公需课（16 讲）；professional = 专业课",
        "  hours: 8                   # 专业课学时：8/16/24/32/56（A2）",
        "  level: 中级                # 层级：初级 / 中级 / 高级（专业课必填）",
        f"  speciality: {_q('环境工程')}   # 申报专业",
        f"  applying_unit: {_q('陕西绿色低碳专业技术人员继续教育基地（示例）')}   # 申报单位",
        f"  production_unit: {_q('西安示例课件制作中心')}   # 制作单位（片尾 A5）",
        "  recording_date: 2024-05-18 # 录制时间（片尾 A5）",
        "  contact:                   # 联系人及联系方式（附件 1）",
        f"    name: {_q('张老师')}",
        f"    phone: {_q('029-8888-0000')}",
        "    email: courseware@example.com",
        "  intro: intro.mp4           # 全省统一片头（A3），只加在第 1 讲之前",
        f"  bank: {BANK_NAME}            # 课程题库（Q1–Q3），随课件交付（D11）",
        "  summary: >-                # 课件简介（附件 2）",
        "    介绍“双碳”目标的由来与政策体系、能源结构转型与低碳技术路径，",
        "    以及碳市场与企业减排实践，结合陕西省案例。",
        "",
        "# 主讲教师：片头字幕卡（A4）显示姓名、专业技术职务和单位",
        "lecturers:",
    ]
    for lid, name, title, unit in _LECTURERS:
        lines += [f"  - id: {lid}", f"    name: {_q(name)}", f"    title: {_q(title)}",
                  f"    unit: {_q(unit)}", "    role: 主讲"]
    lines += [
        "",
        "# 每讲：讲次、标题、主讲教师（lecturers 中的 id）、机位素材。",
        "# sources.slides = PPT 录屏，sources.teacher = 教师机位（B1）；两路起录时间不同，",
        "# 由流水线按音频自动对齐（也可用 sources.offsets 手工指定，单位秒）。",
        "# 一路录像被相机分成多个文件时（FAT32 卡 4 GB、AVCHD 2 GB 分段），按顺序列出，",
        "# 如 teacher: [MVI_0001.MP4, MVI_0002.MP4]，作为一路素材连续播放。",
        "# start / end（可选，秒，以各路素材对齐后的时间计）：本讲在此开始 / 结束，之前的",
        "# 准备时间、课后忘关的录屏或录音不用。",
        "lectures:",
    ]
    for n in range(1, lectures + 1):
        lid = _LECTURERS[(n - 1) % len(_LECTURERS)][0]
        title = _TITLES[(n - 1) % len(_TITLES)]
        lines += [
            f"  - number: {n}",
            f"    title: {_q(title)}",
            f"    lecturer: {lid}",
            "    sources:",
            f"      slides: {_lecture_dir(n)}/slides.mp4",
            f"      teacher: {_lecture_dir(n)}/teacher.mp4",
            f"    summary: {_q(f'第{n}讲：{title}。')}",
        ]
    return "\n".join(lines) + "\n"
