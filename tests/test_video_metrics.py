"""Video QC metrics (V1–V4) on generated frames with known answers, and against FFmpeg.

FFmpeg (the imageio-ffmpeg binary) is the reference for levels (signalstats BRNG), frozen
spans (freezedetect) and black spans (blackdetect), measured on the same lossless clip the
detectors read. Backend parity: the tests marked ``gpu`` rerun metrics on CuPy.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import video_signals as vs

from encoder_profiles import load_profile
from qc_metrics.colour import (
    CameraMatchDetector,
    CameraSpan,
    ColourJumpDetector,
    LevelsDetector,
    WhiteBalanceDetector,
    camera_delta_e,
    colour_cast,
    delta_e2000,
    levels,
    levels_of_batch,
    mean_lab,
    neutral_delta_e,
    to_limited_range,
)
from qc_metrics.frames import YUVFrame, as_batch, box_downscale, split_yuv420p, timecode
from qc_metrics.interlace import field_sums
from qc_metrics.motion import StabilityDetector, phase_correlate
from qc_metrics.noise import NoiseDetector, estimate_noise, snr_db
from qc_metrics.temporal import BlackDetector, FreezeDetector, TimestampDetector
from qc_metrics.video import VideoQC, as_capture

PROFILE = load_profile("shaanxi-2024")
V = PROFILE.video
RANGES = {"luma_range": V.luma_range, "chroma_range": V.chroma_range}
FPS = 25


def feed(detector, frames, ts=None):
    for i, f in enumerate(frames):
        detector.process(f, ts[i] if ts is not None else i / FPS)
    (check,) = detector.finish()
    return check


# --------------------------------------------------------------------------- V2 noise / SNR

@pytest.fixture(scope="module")
def scenes_1080p():
    return {"slide": vs.slide_luma(1080, 1920), "camera": vs.camera_luma(1080, 1920)}


@pytest.mark.parametrize("kind", ["slide", "camera"])
@pytest.mark.parametrize("sigma", [0.3, 0.39, 0.6, 1.0, 1.5, 3.0])
def test_snr_within_1db_at_1080p(scenes_1080p, kind, sigma):
    clean, flat = scenes_1080p[kind]
    y, true_sigma = vs.add_noise(clean, sigma, seed=round(sigma * 100), mask=flat)
    est = estimate_noise(y, luma_range=V.luma_range)
    truth_db = snr_db(true_sigma, luma_range=V.luma_range)
    assert abs(est.snr_db - truth_db) <= 1.0, (est, true_sigma)
    assert est.flat_blocks > 0.3 * est.blocks


def test_text_on_flat_slide_does_not_inflate_noise(scenes_1080p):
    clean, flat = scenes_1080p["slide"]
    blank = np.full_like(clean, clean[flat][0])
    y_text, _ = vs.add_noise(clean, 0.5, seed=1, mask=flat)
    y_blank, _ = vs.add_noise(blank, 0.5, seed=1, mask=np.ones(blank.shape, bool))
    with_text = estimate_noise(y_text, luma_range=V.luma_range)
    without = estimate_noise(y_blank, luma_range=V.luma_range)
    assert abs(with_text.snr_db - without.snr_db) < 0.3


def test_noise_free_slide_is_not_noisy():
    clean, _ = vs.slide_luma(360, 640)
    est = estimate_noise(vs.to_u8(clean), luma_range=V.luma_range)
    assert est.sigma == 0.0 and est.snr_db == math.inf


def test_snr_formula_from_profile():
    # V2: 55 dB ⇔ σ ≈ 0.389 codes over the 219-code luma span; quantisation ≈ 57.6 dB
    assert snr_db(219 / 10 ** (55 / 20), luma_range=(16, 235)) == pytest.approx(55.0)
    assert snr_db(1 / math.sqrt(12), luma_range=V.luma_range) == pytest.approx(57.6, abs=0.05)


@pytest.mark.parametrize(("sigma", "status"), [(0.25, "pass"), (0.8, "fail")])
def test_noise_detector_verdict(sigma, status):
    clean, flat = vs.slide_luma(360, 640)
    u, v = vs.flat_chroma(360, 640)
    frames = [YUVFrame(vs.add_noise(clean, sigma, seed=i, mask=flat)[0], u, v)
              for i in range(10)]
    check = feed(NoiseDetector(fps=FPS, profile=PROFILE), frames)
    assert (check.id, check.clause, check.unit, check.status) == ("video.snr", "V2", "dB", status)
    assert check.threshold == V.snr_min_db


def test_noisy_stretch_in_a_mostly_noise_free_film_is_a_warning():
    """Median σ 0 (a digital capture most of the time) with a noisy stretch: the value is
    'no noise measurable', and the stretch below V2 makes it a warning, not a pass."""
    clean, flat = vs.slide_luma(360, 640)
    u, v = vs.flat_chroma(360, 640)
    frames = [YUVFrame(vs.to_u8(clean), u, v)] * 8 + [
        YUVFrame(vs.add_noise(clean, 1.0, seed=i, mask=flat)[0], u, v) for i in range(3)]
    check = feed(NoiseDetector(fps=FPS, profile=PROFILE, every=1), frames)
    assert (check.status, check.measured) == ("warn", None)
    assert "1 stretch(es) below the minimum" in check.message
    assert check.events[0].start_s == pytest.approx(8 / FPS)


PIP_720 = {"slides": (20, 90, 960, 540), "teacher": (1000, 90, 260, 146)}  # layouts.yaml pip


def _pip_noise(slides_sigma: float, teacher_sigma: float, n: int = 10, bars: int = 0):
    """1280×720 frames in the picture-in-picture layout: a slide (flat, noise σ as given)
    and a teacher camera in the inset, pillarboxed by ``bars`` px each side (a 4:3 camera in
    the 16:9 slot); returns the frames and the teacher's true σ."""
    slide, slide_flat = vs.slide_luma(540, 960)
    camera, camera_flat = vs.camera_luma(146, 260 - 2 * bars)
    u, v = vs.flat_chroma(720, 1280)
    frames, truths = [], []
    for i in range(n):
        y = np.full((720, 1280), 16, np.uint8)
        x0, y0, w, h = PIP_720["slides"]
        y[y0: y0 + h, x0: x0 + w] = (vs.add_noise(slide, slides_sigma, seed=i, mask=slide_flat)[0]
                                     if slides_sigma else vs.to_u8(slide))
        x0, y0, w, h = PIP_720["teacher"]
        noisy, truth = vs.add_noise(camera, teacher_sigma, seed=100 + i, mask=camera_flat)
        y[y0: y0 + h, x0 + bars: x0 + w - bars] = noisy
        frames.append(YUVFrame(y, u, v))
        truths.append(truth)
    return frames, float(np.median(truths))


@pytest.mark.parametrize(("slides_sigma", "bars"), [(0.0, 0), (0.2, 0), (0.0, 33)])
def test_noisy_teacher_inset_fails_v2_with_the_layout(slides_sigma, bars):
    """A noisy teacher camera (σ 2 codes, 41 dB) in the inset beside a clean slide: on the
    whole picture the slide's flat areas outnumber the camera's, so V2 passed; judged per
    camera region (the render's layout) the teacher fails, within 1 dB of the truth, also
    when pillarbox bars (flat, no noise) fill a quarter of its region."""
    frames, truth = _pip_noise(slides_sigma, 2.0, bars=bars)
    whole = feed(NoiseDetector(fps=FPS, profile=PROFILE, every=1), frames)
    assert whole.status == "pass"                       # the blind spot the layout removes
    spans = [CameraSpan(0.0, 10.0, PIP_720)]
    check = feed(NoiseDetector(fps=FPS, profile=PROFILE, every=1, spans=spans), frames)
    assert check.status == "fail" and check.message.startswith("teacher is the noisiest")
    assert check.measured == pytest.approx(snr_db(truth, luma_range=V.luma_range), abs=1.0)
    authored = [CameraSpan(0.0, 10.0, PIP_720, authored=("slides",))]
    check = feed(NoiseDetector(fps=FPS, profile=PROFILE, every=1, spans=authored), frames)
    assert check.status == "fail" and "slides: an authored capture, not measured" in check.message


def test_clean_cameras_pass_v2_with_the_layout():
    frames, _ = _pip_noise(0.2, 0.25)
    check = feed(NoiseDetector(fps=FPS, profile=PROFILE, every=1,
                               spans=[CameraSpan(0.0, 10.0, PIP_720)]), frames)
    assert check.status == "pass" and check.measured > V.snr_min_db, check.message
    assert "teacher: σ" in check.message and "slides: σ" in check.message


# --------------------------------------------------------------------------- V3 white balance

CASTS = {"neutral": (1.0, 1.0, 1.0), "warm": (1.1, 1.0, 0.85), "green": (0.92, 1.1, 0.92)}


@pytest.mark.parametrize("kind", list(CASTS))
def test_cast_neutral_warm_green(kind):
    frame = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=CASTS[kind]))
    cast = colour_cast(frame, **RANGES)
    if kind == "neutral":
        assert cast.magnitude < 1.0
    else:
        assert cast.magnitude > V.cast_max
        assert cast.hue.startswith(kind)
    check = feed(WhiteBalanceDetector(fps=FPS, profile=PROFILE), [frame] * 10)
    assert check.id == "video.white_balance"
    assert check.status == ("pass" if kind == "neutral" else "fail")
    assert check.measured == pytest.approx(cast.magnitude, abs=1e-3)


def test_a_cast_for_a_stretch_only_is_a_warning_that_says_where():
    """A film neutral on the whole (the median) with a warm stretch: the value is the whole
    film's, and the message says why it is still a warning (the stretch, and how long)."""
    neutral = vs.rgb_to_yuv420(vs.colour_scene(180, 320))
    warm = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=CASTS["warm"]))
    check = feed(WhiteBalanceDetector(fps=FPS, profile=PROFILE, every=1),
                 [neutral] * 20 + [warm] * 5 + [neutral] * 10)
    assert check.status == "warn" and check.measured < 1.0
    assert check.message.startswith("neutral: ")
    assert "; 1 stretch(es) with a cast over the limit, 0.2 s in all" in check.message
    assert [(e.start_s, e.end_s) for e in check.events] == [(20 / FPS, 25 / FPS)]


# CIE ΔE2000 Sharma 2005, table 1 (pairs 1, 2, 3, 7, 17, 18, 19, 20, 25)
SHARMA = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
          ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
          ((50, 2.8361, -74.0200), (50, 0, -82.7485), 3.4412),
          ((50, 0, 0), (50, -1, 2), 2.3669),
          ((50, 2.5, 0), (73, 25, -18), 27.1492),
          ((50, 2.5, 0), (61, -5, 29), 22.8977),
          ((50, 2.5, 0), (56, -27, -3), 31.9030),
          ((50, 2.5, 0), (58, 24, 15), 19.4535),
          ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644)]


def test_delta_e2000_sharma_table():
    for lab1, lab2, expected in SHARMA:
        assert delta_e2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)
        assert delta_e2000(lab2, lab1) == pytest.approx(expected, abs=1e-4)
    batch = delta_e2000(np.array([p[0] for p in SHARMA]), np.array([p[1] for p in SHARMA]))
    np.testing.assert_allclose(batch, [p[2] for p in SHARMA], atol=1e-4)


def test_camera_match():
    neutral = vs.rgb_to_yuv420(vs.colour_scene(180, 320))
    warm = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=CASTS["warm"]))
    assert camera_delta_e(neutral, neutral, **RANGES) == pytest.approx(0.0, abs=1e-6)
    assert camera_delta_e(neutral, warm, **RANGES) > V.camera_delta_e_max


# --------------------------------------------------------------------------- V4 levels

def test_levels_shares():
    y = np.full((180, 320), 100, np.uint8)
    u, v = vs.flat_chroma(180, 320)
    y[:18, :] = 250                 # 10 % superwhite
    y[18:27, :] = 4                 # 5 % below black
    u[45:, :80] = 250               # chroma out of range under a quarter of the frame
    got = levels(YUVFrame(y, u, v), **RANGES)
    assert got.luma_high == pytest.approx(0.10)
    assert got.luma_low == pytest.approx(0.05)
    assert got.chroma == pytest.approx(0.25)
    assert got.share == pytest.approx(0.40)
    check = feed(LevelsDetector(fps=FPS, profile=PROFILE), [YUVFrame(y, u, v)] * 3)
    assert (check.id, check.clause, check.status) == ("video.levels", "V4", "fail")
    assert check.measured == pytest.approx(0.40, abs=0.02)
    legal = feed(LevelsDetector(fps=FPS, profile=PROFILE),
                 [YUVFrame(np.full((180, 320), 100, np.uint8), *vs.flat_chroma(180, 320))])
    assert legal.status == "pass" and legal.measured == 0.0


def test_an_illegal_stretch_in_a_legal_film_is_a_warning_that_says_where():
    y = np.full((180, 320), 100, np.uint8)
    u, v = vs.flat_chroma(180, 320)
    hot = y.copy()
    hot[:18] = 250                  # 10 % superwhite for 3 frames of 50
    check = feed(LevelsDetector(fps=FPS, profile=PROFILE),
                 [YUVFrame(y, u, v)] * 30 + [YUVFrame(hot, u, v)] * 3 + [YUVFrame(y, u, v)] * 17)
    assert check.status == "warn" and check.measured == pytest.approx(0.006, abs=1e-3)
    assert "; 1 stretch(es) over the limit, 0.1 s in all" in check.message
    assert [(e.start_s, e.end_s) for e in check.events] == [(30 / FPS, 33 / FPS)]


def test_full_range_codes_to_limited_range():
    ramp = np.arange(256, dtype=np.uint8)[None, :].repeat(2, 0)
    y, u, v = to_limited_range(YUVFrame(ramp, ramp[:, ::2], ramp[:, 1::2]), **RANGES)
    assert (y[0, 0], y[0, 255], u[0, 0], u[0, 64], v[0, 127]) == (16, 235, 16, 128, 240)
    # every step of the ramp maps to the nearest limited-range code
    assert np.abs(y[0].astype(float) - (16 + np.arange(256) * 219 / 255)).max() <= 0.5


def test_levels_of_a_full_range_file_name_the_coding():
    """The stored codes are judged (as signalstats does); the message names the coding and the
    fix, and legal codes in a full-range file are still a warning."""
    y = np.full((180, 320), 100, np.uint8)
    y[:36] = 250
    frame = YUVFrame(y, *vs.flat_chroma(180, 320))
    full = feed(LevelsDetector(fps=FPS, profile=PROFILE, full_range=True), [frame] * 3)
    assert full.status == "fail" and full.measured == pytest.approx(0.2, abs=0.02)
    assert "coded in full range" in full.message and "out_range=tv" in full.message
    grey = YUVFrame(np.full((180, 320), 100, np.uint8), *vs.flat_chroma(180, 320))
    quiet = feed(LevelsDetector(fps=FPS, profile=PROFILE, full_range=True), [grey] * 3)
    assert (quiet.status, quiet.measured) == ("warn", 0.0)
    assert feed(LevelsDetector(fps=FPS, profile=PROFILE), [grey] * 3).status == "pass"


def test_a_full_range_picture_is_measured_as_the_picture_it_shows():
    """V2/V3 on a full-range picture: σ and chroma offsets in full-range codes are 255/219
    too large; VideoQC measures the limited-range picture, so a camera's SNR and cast come out
    the same whichever way it was coded."""
    rgb = vs.colour_scene(360, 640, gains=CASTS["warm"])
    limited = vs.rgb_to_yuv420(rgb)
    h, w = limited.y.shape
    noisy, _ = vs.add_noise(limited.y.astype(float), 2.0, seed=5, mask=np.ones((h, w), bool))
    limited = YUVFrame(noisy, limited.u, limited.v)
    y, u, v = (p.astype(float) for p in limited)      # limited → full-range codes
    full = YUVFrame(vs.to_u8((y - 16) * 255 / 219), vs.to_u8((u - 128) * 255 / 224 + 128),
                    vs.to_u8((v - 128) * 255 / 224 + 128))
    results = {}
    for name, frames, flag in (("limited", limited, False), ("full", full, True)):
        qc = VideoQC(fps=FPS, profile=PROFILE, full_range=flag)
        for i in range(8):
            qc.process(frames, i / FPS)
        results[name] = {c.id: c for c in qc.finish()}
    for check_id, tol in (("video.snr", 0.5), ("video.white_balance", 0.5)):
        a, b = results["limited"][check_id], results["full"][check_id]
        assert a.status == b.status and b.measured == pytest.approx(a.measured, abs=tol), check_id
    # read as limited-range codes, the same full-range picture looks 1.3 dB noisier
    qc = VideoQC(fps=FPS, profile=PROFILE)
    for i in range(8):
        qc.process(full, i / FPS)
    naive = next(c for c in qc.finish() if c.id == "video.snr")
    assert results["limited"]["video.snr"].measured - naive.measured > 1.0


def _brng_by_hand(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> float:
    """signalstats BRNG counted pixel by pixel: the luma out of range, or the chroma sample
    that goes with it (``u``, ``v``: one per luma pixel)."""
    lo, hi = RANGES["luma_range"]
    c0, c1 = RANGES["chroma_range"]
    return float(((y < lo) | (y > hi) | (u < c0) | (u > c1) | (v < c0) | (v > c1)).mean())


@pytest.mark.parametrize("step", [1, 2])
def test_levels_of_a_batch_with_legal_and_illegal_frames(step):
    """Legal frames are recognised by their extremes and not counted; the others are
    counted as before: per frame, the same shares as counting each frame by hand (step 1),
    or as counting its sample points (step 2: one luma pixel in 4×4)."""
    rng = np.random.default_rng(3)
    n, h, w = 6, 72, 128
    y = rng.integers(16, 236, (n, h, w), dtype=np.uint8)
    u = rng.integers(16, 241, (n, h // 2, w // 2), dtype=np.uint8)
    v = rng.integers(16, 241, (n, h // 2, w // 2), dtype=np.uint8)
    y[1, :9] = 250                   # superwhite rows (on sample points too)
    u[3, 10:20, 5:9] = 2             # chroma out of range
    y[4, 1, 1] = 3                   # one pixel off the sample grid of step 2
    got = levels_of_batch(YUVFrame(y, u, v), step=step, **RANGES)
    for i in range(n):
        if step == 1:  # each chroma sample covers a 2×2 block of luma
            want = _brng_by_hand(y[i], *(c[i].repeat(2, 0).repeat(2, 1) for c in (u, v)))
        else:  # co-sited samples: luma every 4th pixel, chroma every 2nd
            want = _brng_by_hand(y[i, ::4, ::4], u[i, ::2, ::2], v[i, ::2, ::2])
        assert got[i, 0] == pytest.approx(want, abs=1e-6), i
    assert list(got[:, 0] > 0) == [False, True, False, True, step == 1, False]
    assert got[1, 2] == pytest.approx(got[1, 0]) and got[3, 3] == pytest.approx(got[3, 0])


@pytest.mark.parametrize("factor", [2, 3, 5, 8, 16])
def test_box_downscale_is_the_block_mean(factor):
    """Exact block means for power-of-two and other factors, the remainder cropped."""
    rng = np.random.default_rng(factor)
    y = rng.integers(0, 256, (3, 100, 173), dtype=np.uint8)
    h, w = 100 - 100 % factor, 173 - 173 % factor
    want = y[:, :h, :w].reshape(3, h // factor, factor, w // factor, factor).mean(axis=(2, 4))
    got = box_downscale(y, factor)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)


# --------------------------------------------------------------------------- V1 stability

def _times(check):
    return [round(e.start_s, 2) for e in check.events]


def test_planted_jumps_flagged_cut_not():
    jumps = {30: 15.0, 60: -30.0, 80: 22.0}
    frames = vs.pan_clip(180, 320, 100, speed=1.0, jumps=jumps, cut_at=45)
    check = feed(StabilityDetector(fps=FPS, profile=PROFILE), frames)
    assert check.id == "video.stability" and check.status == "fail"
    assert _times(check) == [i / FPS for i in sorted(jumps)]
    assert "45" not in str(_times(check))


def test_steady_pan_and_cut_pass():
    frames = vs.pan_clip(180, 320, 60, speed=1.5, cut_at=30)
    check = feed(StabilityDetector(fps=FPS, profile=PROFILE), frames)
    assert check.status == "pass", check.events


def test_lecturer_stepping_aside_is_not_a_camera_jump():
    """The lecturer (a quarter of the picture, more texture than the wall) steps 12 px aside
    and back: the whole-frame correlation follows the lecturer, the tiles show the wall
    still, so no jump. The same steps of the whole picture (the camera knocked) are jumps."""
    steps = {20: 12, 22: 0, 35: -12, 36: 0}
    detector = StabilityDetector(fps=FPS, profile=PROFILE)
    person = feed(detector, vs.lecturer_clip(360, 640, 50, steps=steps))
    assert person.status == "pass", person.events
    assert "4 sudden move(s) of part of the picture only" in person.message
    assert max(m for _, m in detector.camera_motion()) < 1.0     # the chart: camera still
    detector = StabilityDetector(fps=FPS, profile=PROFILE)
    camera = feed(detector, vs.lecturer_clip(360, 640, 50, steps=steps, whole=True))
    assert sorted(round(m) for _, m in detector.camera_motion())[-4:] == [12, 12, 12, 12]
    assert camera.status == "fail"
    # out at 20 and back at 22: two jumps; out at 35 and straight back: one
    assert _times(camera) == [20 / FPS, 22 / FPS, 35 / FPS]


def _inset_clip() -> tuple[list[YUVFrame], list[CameraSpan]]:
    """A still slide (authored) and a teacher inset panning 1 px per frame, knocked by 12 px
    at frame 20; with the layout's span."""
    clean, _ = vs.slide_luma(360, 640)
    u, v = vs.flat_chroma(360, 640)
    frames = []
    for inset in vs.pan_clip(90, 160, 40, speed=1.0, jumps={20: 12.0}):
        y = vs.to_u8(clean)
        y[40:130, 460:620] = inset.y
        frames.append(YUVFrame(y, u, v))
    regions = {"slides": (0, 0, 440, 360), "teacher": (460, 40, 160, 90)}
    return frames, [CameraSpan(0.0, 10.0, regions, authored=("slides",))]


def test_jump_of_the_teacher_camera_in_an_inset():
    """The teacher camera, an inset of 4 % of the film beside a still slide, is knocked by
    12 px at frame 20 while it pans. In the whole picture the slide dominates; with the
    render's layout each camera is judged on its own and the jump is found."""
    frames, spans = _inset_clip()
    whole = feed(StabilityDetector(fps=FPS, profile=PROFILE), frames)
    assert whole.status == "pass"
    check = feed(StabilityDetector(fps=FPS, profile=PROFILE, spans=spans), frames)
    assert check.status == "fail" and _times(check) == [20 / FPS], check.events
    assert "the teacher picture jumps by" in check.events[0].detail
    assert "each camera's picture judged on its own" in check.message


def test_jitter():
    shake = {i: (1.0 if i % 2 else -1.0) for i in range(20, 60)}
    frames = vs.pan_clip(180, 320, 80, speed=1.0, jumps=shake)
    check = feed(StabilityDetector(fps=FPS, profile=PROFILE), frames)
    assert check.status == "fail"
    assert all("jitter" in e.detail for e in check.events)
    (event,) = check.events
    assert 0.4 <= event.start_s <= 0.8 and event.end_s >= 2.4


def test_phase_correlate_downscaled():
    frames = vs.pan_clip(360, 640, 3, speed=12.0)
    shift = phase_correlate(frames[0].y, frames[1].y, factor=3)
    assert shift.dx == pytest.approx(-12.0, abs=1.0) and abs(shift.dy) < 1.0
    assert shift.peak > 0.3


# --------------------------------------------------------------------------- V1 timestamps

def test_three_dropped_frames():
    frames = vs.pan_clip(90, 160, 50, speed=1.0)
    ts = [i / FPS for i in range(53) if i not in (20, 21, 22)]
    check = feed(TimestampDetector(fps=FPS, profile=PROFILE), frames, ts)
    assert (check.id, check.status, check.measured) == ("video.timestamps", "fail", 3.0)
    (event,) = check.events
    assert event.start_s == pytest.approx(20 / FPS) and event.end_s == pytest.approx(23 / FPS)
    assert "3 frame(s) missing" in event.detail


def test_a_gap_counts_frames_at_the_files_cadence_not_its_average_rate():
    # 0.5 s missing from 4 s at 25 fps: the stream's average rate is 22 fps, which would
    # make the 520-ms step 10 frames; the timestamps' own cadence (40 ms) makes it 12
    ts = [i / FPS for i in range(100) if not 38 <= i <= 49]
    frames = vs.pan_clip(90, 160, len(ts), speed=1.0)
    average = len(ts) / (ts[-1] + 1 / FPS)
    check = feed(TimestampDetector(fps=average, profile=PROFILE), frames, ts)
    assert check.measured == 12.0 and "12 frame(s) missing" in check.events[0].detail


def test_jittery_timestamps_without_a_cadence_are_not_gaps():
    # steps alternating 32/48 ms (a jittery 25 fps clock) have no cadence, so they are judged
    # against 1/fps = 40 ms, within tolerance; against their 32-ms median (20 of the 39 steps)
    # every 48-ms step would be a dropped frame
    ts = [0.0]
    for i in range(39):
        ts.append(ts[-1] + (0.048 if i % 2 else 0.032))
    frames = vs.pan_clip(90, 160, len(ts), speed=1.0)
    check = feed(TimestampDetector(fps=FPS, profile=PROFILE), frames, ts)
    assert check.status == "pass" and check.measured == 0.0, check.message


def test_repeats_reversals_duplicates():
    frames = vs.pan_clip(90, 160, 30, speed=2.0)
    frames[15] = frames[14]                       # a duplicated picture in moving content
    ts = [i / FPS for i in range(30)]
    ts[8] = ts[7]                                 # repeated timestamp
    ts[20], ts[21] = ts[21], ts[20]               # reversal
    check = feed(TimestampDetector(fps=FPS, profile=PROFILE), frames, ts)
    assert check.status == "fail"
    assert "repeated timestamp" in check.message and "reversal" in check.message
    assert "1 duplicated frame" in check.message
    clean = feed(TimestampDetector(fps=FPS, profile=PROFILE), vs.pan_clip(90, 160, 30))
    assert clean.status == "pass" and clean.measured == 0.0


# --------------------------------------------------------------------------- V1 colour jumps

def test_colour_jump_outside_cut_only():
    neutral = vs.rgb_to_yuv420(vs.colour_scene(180, 320))
    warm = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=CASTS["warm"]))
    grey = vs.texture(180, 320, seed=9, mean=0.5, contrast=0.3)
    other = vs.rgb_to_yuv420(np.clip(grey[..., None] * [0.8, 1.0, 1.2], 0, 1))  # new scene
    frames = [neutral] * 20 + [warm] * 20 + [other] * 10   # jump at 0.8 s, cut at 1.6 s
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE), frames)
    assert check.id == "video.colour_jumps" and check.status == "fail"
    assert _times(check) == [0.8]
    steady = feed(ColourJumpDetector(fps=FPS, profile=PROFILE), [neutral] * 10 + [other] * 5)
    assert steady.status == "pass"


def test_slide_build_is_not_a_colour_jump():
    """A click on a slide reveals a coloured chart (a tenth of the slide): the mean colour
    jumps by ΔE2000 ≈ 6–9 while the content stays the same, but only a few tiles changed, so
    it is new content, not a colour jump. The same slide turning warm as a whole is one."""
    clean, _ = vs.slide_luma(360, 640)
    slide = np.repeat((clean / 255.0)[..., None], 3, axis=2)
    build = slide.copy()
    build[240:350, 420:630] = (0.2, 0.3, 0.7)                  # 10 % of the picture
    warm = np.clip(slide * np.array(CASTS["warm"]), 0, 1)
    before, after, turned = (vs.rgb_to_yuv420(x) for x in (slide, build, warm))
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE), [before] * 10 + [after] * 10)
    assert check.status == "pass", check.events
    assert "1 change(s) of part of the picture only" in check.message
    whole = ColourJumpDetector(fps=FPS, profile=PROFILE, grid=1)   # the old, whole-frame test
    assert feed(whole, [before] * 10 + [after] * 10).status == "fail"
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE), [before] * 10 + [turned] * 10)
    assert check.status == "fail" and _times(check) == [0.4]


def test_colour_jump_of_one_camera_in_the_layout():
    """The teacher camera, a small inset (5 % of the picture), turns warm at 0.4 s. Judged as
    a whole the picture only got new content in a corner; judged per camera region (the
    render's layout) the teacher camera jumped. At a layout switch, colours may change: a
    cut, not a jump."""
    before, regions = _pip((1, 1, 1), (1, 1, 1))
    after, _ = _pip((1, 1, 1), CASTS["warm"])
    frames = [before] * 10 + [after] * 10
    assert feed(ColourJumpDetector(fps=FPS, profile=PROFILE), frames).status == "pass"
    spans = [CameraSpan(0.0, 10.0, regions)]
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE, spans=spans), frames)
    assert check.status == "fail" and _times(check) == [0.4]
    assert "teacher mean colour jumps" in check.events[0].detail
    switch = [CameraSpan(0.0, 0.4, regions), CameraSpan(0.4, 10.0, regions)]
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE, spans=switch), frames)
    assert check.status == "pass", check.events


def _faded(frame_rgb: np.ndarray, level: float) -> YUVFrame:
    return vs.rgb_to_yuv420(frame_rgb * level)


def test_fades_are_transitions_a_snap_in_between_is_a_jump():
    """A 0.5-s fade in with uneven steps (as an encoder leaves them: some steps move the
    mean colour by ΔE2000 > 6, some by < 1.5), a white-balance snap at 2.0 s, a 0.4-s fade
    out: the fades are edits, only the snap is a jump."""
    neutral = vs.colour_scene(180, 320)
    warm = vs.colour_scene(180, 320, gains=CASTS["warm"])
    steps = np.array([1, 2, 0.3, 2, 1, 0.4, 2, 1, 1.5, 0.3, 1.5, 1])
    fade_in = [_faded(neutral, x) for x in np.concatenate([[0], np.cumsum(steps)]) / steps.sum()]
    fade_out = [_faded(warm, x) for x in np.linspace(1, 0, 11)]
    still_neutral, still_warm = vs.rgb_to_yuv420(neutral), vs.rgb_to_yuv420(warm)
    frames = fade_in + [still_neutral] * (50 - len(fade_in)) + [still_warm] * 20 + fade_out
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE), frames)
    assert check.status == "fail" and _times(check) == [2.0], check.events
    assert "2 gradual transition(s)" in check.message
    fades = feed(ColourJumpDetector(fps=FPS, profile=PROFILE), fade_in + [still_neutral] * 10)
    assert fades.status == "pass", fades.events


def test_a_white_balance_snap_over_two_frames_is_one_jump():
    """A camera's white balance snapping in two frames, each step under the threshold and
    the change as a whole over it: one sudden change, reported once with its whole size."""
    neutral = vs.rgb_to_yuv420(vs.colour_scene(180, 320))
    half = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=(1.04, 1.0, 0.94)))
    warm = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=(1.08, 1.0, 0.88)))
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE),
                 [neutral] * 15 + [half] + [warm] * 15)
    assert check.status == "fail" and check.measured == 1.0, check.events
    (event,) = check.events
    assert event.start_s == pytest.approx(0.6) and "over 2 frames" in event.detail
    whole = float(event.detail.split("ΔE2000 ")[1].split()[0])
    steps = [float(delta_e2000(mean_lab(a, **RANGES)[0], mean_lab(b, **RANGES)[0]))
             for a, b in ((neutral, half), (half, warm))]
    assert max(steps) < V.camera_delta_e_max < whole    # each step alone would pass


def test_colour_jump_memory_stays_flat():
    """Still stretches are forgotten as they pass: a long film keeps a handful of pairs."""
    neutral = vs.rgb_to_yuv420(vs.colour_scene(90, 160))
    warm = vs.rgb_to_yuv420(vs.colour_scene(90, 160, gains=CASTS["warm"]))
    detector = ColourJumpDetector(fps=FPS, profile=PROFILE)
    frames = [neutral] * 400 + [warm] * 400
    for i in range(0, len(frames), 16):
        detector.process_batch(vs.stack(frames[i: i + 16]), [k / FPS for k in range(i, i + 16)])
    assert len(detector._pairs) < 20
    (check,) = detector.finish()
    assert _times(check) == [16.0]


def test_a_new_slide_in_an_authored_capture_is_not_a_colour_jump():
    """Slides straight from a computer change to a page of the template's cooler variant:
    other text, the same title bar and frame (content correlation ≈ 0.7), every tile bluer.
    As a camera that is a colour jump; as the authored capture the layout says it is, a new
    slide. The same capture turning blue as a whole (a capture device switching matrix)
    keeps its content correlation at 1 and is still a jump."""
    cool = np.array([0.93, 0.97, 1.08])
    a, _ = vs.slide_luma(360, 640, seed=0)
    b, _ = vs.slide_luma(360, 640, seed=1)
    page, next_page = (np.repeat((x / 255)[..., None], 3, axis=2) for x in (a, b))
    first, cooler = vs.rgb_to_yuv420(page), vs.rgb_to_yuv420(np.clip(next_page * cool, 0, 1))
    frames = [first] * 10 + [cooler] * 10
    regions = {"slides": (0, 0, 640, 360)}
    as_camera = [CameraSpan(0.0, 10.0, regions)]
    authored = [CameraSpan(0.0, 10.0, regions, authored=("slides",))]
    assert feed(ColourJumpDetector(fps=FPS, profile=PROFILE, spans=as_camera),
                frames).status == "fail"
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE, spans=authored), frames)
    assert check.status == "pass", check.events
    glitch = [first] * 10 + [vs.rgb_to_yuv420(np.clip(page * cool, 0, 1))] * 10
    check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE, spans=authored), glitch)
    assert check.status == "fail" and _times(check) == [0.4]


# --------------------------------------------------------------------------- FFmpeg reference

FREEZE = (37, 88)        # frames 37..88 identical: 2.08 s still
BLACK = (112, 137)       # 1 s of black
OUT_OF_RANGE_FROM = 137


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, list[YUVFrame]]:
    """7 s at 25 fps, 320×180: pan, 2 s freeze, pan, 1 s black, pan with illegal levels."""
    pan = vs.pan_clip(180, 320, 175, speed=3.0)
    black = YUVFrame(np.full((180, 320), 16, np.uint8), *vs.flat_chroma(180, 320))
    frames = []
    for i in range(175):
        f = pan[FREEZE[0]] if FREEZE[0] <= i <= FREEZE[1] else pan[i]
        f = black if BLACK[0] <= i < BLACK[1] else f
        if i >= OUT_OF_RANGE_FROM:
            y, u = f.y.copy(), f.u.copy()
            y[10:40, 10:110] = 250
            y[50:60, 10:20] = 5
            u[60:80, 60:100] = 245
            f = YUVFrame(y, u, f.v)
        frames.append(f)
    path = tmp_path_factory.mktemp("clip") / "clip.mkv"
    vs.write_lossless(path, frames, fps=FPS)
    return path, frames


def test_clip_round_trip_is_lossless(clip):
    path, frames = clip
    decoded = vs.decode(path)
    assert len(decoded) == len(frames)
    assert all(np.array_equal(a, b) for (f, _), g in zip(decoded, frames, strict=True)
               for a, b in zip(f, g, strict=True))
    assert decoded[10][1] == pytest.approx(10 / FPS)


def test_levels_match_ffmpeg_brng(clip):
    path, _ = clip
    meta, _ = vs.ffmpeg_filter(path, "signalstats=stat=brng")
    decoded = vs.decode(path)
    assert len(meta) == len(decoded)
    for (frame, _), m in zip(decoded, meta, strict=True):
        brng = float(m["lavfi.signalstats.BRNG"])
        assert levels(frame, **RANGES).share == pytest.approx(brng, abs=1e-6)
        assert levels(frame, **RANGES, step=2).share == pytest.approx(brng, abs=0.01)
    assert max(float(m["lavfi.signalstats.BRNG"]) for m in meta) > V.out_of_range_max


def test_freeze_and_black_match_ffmpeg(clip):
    path, _ = clip
    decoded = vs.decode(path)
    end = decoded[-1][1] + 1 / FPS
    meta, _ = vs.ffmpeg_filter(path, "freezedetect=n=0.001:d=2")
    ff_freeze = vs.meta_spans(meta, "lavfi.freezedetect.freeze", end)
    _, log = vs.ffmpeg_filter(path, "blackdetect=d=0.5:pix_th=0.10:pic_th=0.98")
    ff_black = vs.log_spans(log, "black")
    assert ff_freeze == [(FREEZE[0] / FPS, (FREEZE[1] + 1) / FPS)]
    assert ff_black == [(BLACK[0] / FPS, BLACK[1] / FPS)]

    freeze = FreezeDetector(fps=FPS, profile=PROFILE, noise=0.001, min_duration_s=2.0)
    black = BlackDetector(fps=FPS, profile=PROFILE, pix_th=0.10, pic_th=0.98,
                          min_duration_s=0.5)
    for frame, t in decoded:
        freeze.process(frame, t)
        black.process(frame, t)
    (fz,), (bk,) = freeze.finish(), black.finish()
    frame_s = 1 / FPS
    for ours, theirs in ((fz, ff_freeze), (bk, ff_black)):
        assert len(ours.events) == len(theirs)
        for e, (a, b) in zip(ours.events, theirs, strict=True):
            assert abs(e.start_s - a) <= frame_s / 2 and abs(e.end_s - b) <= frame_s / 2
    assert (fz.id, fz.status) == ("video.freeze", "warn")
    assert (bk.id, bk.status) == ("video.black", "fail")


def _refreshed_clip(path: Path) -> None:
    """15 s of H.264 at a lecture's bits per pixel (640×360, 225 kbps; 1280×720 at 900), a
    keyframe every second: a camera frozen for 6 s, a lecturer stepping aside and back for
    3 s (still between the steps), a slide for 3 s, the same slide with one more line for 3."""
    import cv2

    h, w = 360, 640
    cam, wall = vs.camera_luma(h, w, seed=3)
    frozen, _ = vs.add_noise(cam, 2.0, seed=5, mask=wall)
    chroma = vs.flat_chroma(h, w)
    slide = vs.to_u8(vs.slide_luma(h, w, seed=1)[0])
    more = slide.copy()
    cv2.putText(more, "one more line", (w // 12, h * 7 // 8), cv2.FONT_HERSHEY_SIMPLEX, 0.9,
                40, 2, cv2.LINE_AA)

    def frames():
        yield from (YUVFrame(frozen, *chroma) for _ in range(150))
        yield from vs.lecturer_clip(h, w, 75, steps={15: 6, 30: 12, 45: 6, 60: 0})
        yield from (YUVFrame(slide, *chroma) for _ in range(75))
        yield from (YUVFrame(more, *chroma) for _ in range(75))

    vs.write_h264(path, frames(), fps=FPS, kbps=225, keyint=FPS)


def test_a_frozen_picture_stays_frozen_through_the_encoders_refreshes(tmp_path):
    """Each keyframe codes the frozen camera again: freezedetect, comparing pixels, ends
    its span there and reports a fraction of the 6 s, or nothing with a shorter keyframe
    interval. Ours reports the whole 6 s; a lecturer's step and a slide's new line, content,
    still end a still."""
    path = tmp_path / "refreshed.mp4"
    _refreshed_clip(path)
    decoded = vs.decode(path)
    meta, _ = vs.ffmpeg_filter(path, "freezedetect=n=0.001:d=2")
    ff = vs.meta_spans(meta, "lavfi.freezedetect.freeze", 15.0)
    assert sum(min(b, 6.0) - a for a, b in ff if a < 6.0) <= 4.0, ff   # refreshes break it

    freeze = FreezeDetector(fps=FPS, profile=PROFILE)
    for k in range(0, len(decoded), 16):
        batch = decoded[k:k + 16]
        freeze.process_batch(vs.stack([f for f, _ in batch]), [t for _, t in batch])
    (check,) = freeze.finish()
    spans = [(e.start_s, e.end_s) for e in check.events]
    assert spans == [pytest.approx(x, abs=0.5 / FPS) for x in [(0, 6), (9, 12), (12, 15)]]
    # between the lecturer's steps the picture is still, not one still for the 3 s
    assert [round(b - a, 2) for a, b in freeze.stills() if 6 <= a < 9] == [0.6] * 5


def test_a_cards_picture_is_kept_past_an_animations_doubled_frames():
    """An intro animated at 12.5 fps shows each picture twice: a still of two frames each
    time, too short for a card, so none takes one of the places kept for stills' pictures;
    the 3-s card after it keeps its picture (its block means, to tell one lecture's card
    from another's)."""
    h, w = 90, 160
    animation = [f for f in vs.pan_clip(h, w, 25, speed=3.0) for _ in range(2)]   # 2 s
    y = np.full((h, w), 60, np.uint8)
    y[30:60, 20:140] = 200                                                        # its text
    card = YUVFrame(y, *vs.flat_chroma(h, w))
    frames = animation + [card] * 75
    freeze = FreezeDetector(fps=FPS, profile=PROFILE)
    for k in range(0, len(frames), 16):
        freeze.process_batch(vs.stack(frames[k:k + 16]),
                             [i / FPS for i in range(k, min(k + 16, len(frames)))])
    start, end = freeze.stills()[-1]
    assert (start, end) == pytest.approx((2.0, 5.0))
    picture = freeze.picture(start, end)
    assert picture is not None
    assert np.abs(picture - box_downscale(y[None], 16)[0]).max() < 0.5


def test_a_dark_slide_full_screen_is_a_warning_a_black_camera_a_failure():
    """A dark section slide (white title on black, 1.2 % of the pixels lit) for 1 s inside
    the film: blackdetect calls it black. With the layout showing the authored slides capture
    full screen, that is the author's slide or a lost signal, for a person to judge (warn);
    shown as a camera, or with a camera in the picture, black is a gap (fail)."""
    h, w = 180, 320
    u, v = vs.flat_chroma(h, w)
    slide = YUVFrame(np.full((h, w), 200, np.uint8), u, v)
    dark_y = np.full((h, w), 16, np.uint8)
    dark_y[80:92, 60:120] = 235                         # the title: 1.25 % of the pixels
    frames = [slide] * 25 + [YUVFrame(dark_y, u, v)] * 25 + [slide] * 25
    full = {"slides": (0, 0, w, h)}

    def check(spans):
        return feed(BlackDetector(fps=FPS, profile=PROFILE, spans=spans), frames)

    authored = check([CameraSpan(0.0, 10.0, full, authored=("slides",))])
    assert authored.status == "warn" and "judge by eye" in authored.message
    assert check([CameraSpan(0.0, 10.0, full)]).status == "fail"
    assert check([]).status == "fail"
    with_camera = {**full, "teacher": (240, 0, 80, 45)}
    assert check([CameraSpan(0.0, 10.0, with_camera, authored=("slides",))]).status == "fail"


def test_video_qc_on_clip(clip):
    path, _ = clip
    decoded = vs.decode(path)
    qc = VideoQC(fps=FPS, profile=PROFILE, batch=8)
    for frame, t in decoded:
        qc.process(frame, t)
    checks = {c.id: c for c in qc.finish()}
    assert list(checks) == ["video.snr", "video.white_balance", "video.levels",
                            "video.stability", "video.timestamps", "video.colour_jumps",
                            "video.freeze", "video.black", "video.colour_bars",
                            "video.camera_match",
                            "video.interlacing"]
    assert checks["video.camera_match"].status == "skip"   # one picture, no layout given
    assert qc.backend == "numpy"
    assert checks["video.timestamps"].status == "pass"
    assert checks["video.white_balance"].status == "pass"
    assert checks["video.colour_jumps"].status == "pass"
    assert checks["video.levels"].events[0].start_s == pytest.approx(OUT_OF_RANGE_FROM / FPS)
    assert checks["video.freeze"].events and checks["video.black"].events
    assert checks["video.snr"].status == "pass"

    # one stack at once gives the same answers as frame by frame
    batch = VideoQC(fps=FPS, profile=PROFILE)
    batch.process_batch(vs.stack([f for f, _ in decoded]), [t for _, t in decoded])
    assert batch.finish() == list(checks.values())


# --------------------------------------------------------------------------- plumbing

def test_frame_plumbing():
    y = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    u, v = np.full((6, 8), 1, np.uint8), np.full((6, 8), 2, np.uint8)
    buf = np.concatenate([y, u.reshape(-1, 16), v.reshape(-1, 16)])
    got = split_yuv420p(buf)
    assert all(np.array_equal(a, b) for a, b in zip(got, (y, u, v), strict=True))
    assert as_batch(got).y.shape == (1, 12, 16)
    with pytest.raises(ValueError, match="4:2:0"):
        as_batch((y, y, y))
    assert timecode(3725.04) == "01:02:05.040"


# --------------------------------------------------------------------------- backend parity

@pytest.mark.gpu
def test_cupy_parity(device_xp):
    cupy = device_xp
    clean, flat = vs.slide_luma(360, 640)
    y, _ = vs.add_noise(clean, 0.5, seed=3, mask=flat)
    frame = vs.rgb_to_yuv420(vs.colour_scene(360, 640, gains=CASTS["warm"]))
    frame = YUVFrame(y, frame.u, frame.v)
    gpu = YUVFrame(*(cupy.asarray(p) for p in frame))
    assert estimate_noise(gpu.y, luma_range=V.luma_range).sigma == pytest.approx(
        estimate_noise(y, luma_range=V.luma_range).sigma, rel=1e-4)
    assert colour_cast(gpu, **RANGES).magnitude == pytest.approx(
        colour_cast(frame, **RANGES).magnitude, abs=1e-3)
    assert levels(gpu, **RANGES) == levels(frame, **RANGES)
    for a, b in zip(to_limited_range(gpu, **RANGES), to_limited_range(frame, **RANGES),
                    strict=True):
        assert np.array_equal(cupy.asnumpy(a), b)
    pan = vs.pan_clip(180, 320, 2, speed=7.0)
    a = phase_correlate(pan[0].y, pan[1].y)
    b = phase_correlate(cupy.asarray(pan[0].y), cupy.asarray(pan[1].y))
    assert (a.dx, a.dy) == pytest.approx((b.dx, b.dy), abs=1e-3)
    # the tile support that tells a lecturer's step from a camera jump
    clip = vs.lecturer_clip(360, 640, 30, steps={20: 12, 22: 0})
    on_cpu, on_gpu = (StabilityDetector(fps=FPS, profile=PROFILE) for _ in range(2))
    cpu_check = feed(on_cpu, clip)
    gpu_check = feed(on_gpu, [YUVFrame(*(cupy.asarray(p) for p in f)) for f in clip])
    assert (gpu_check.status, gpu_check.message) == (cpu_check.status, cpu_check.message)
    assert [t for t, _ in on_gpu.camera_motion()] == [t for t, _ in on_cpu.camera_motion()]
    assert [m for _, m in on_gpu.camera_motion()] == pytest.approx(
        [m for _, m in on_cpu.camera_motion()], abs=1e-3)
    frames, spans = _inset_clip()
    cpu_check = feed(StabilityDetector(fps=FPS, profile=PROFILE, spans=spans), frames)
    gpu_check = feed(StabilityDetector(fps=FPS, profile=PROFILE, spans=spans),
                     [YUVFrame(*(cupy.asarray(p) for p in f)) for f in frames])
    assert (gpu_check.status, gpu_check.message) == (cpu_check.status, cpu_check.message)
    # noise per camera region, inside its bars
    frames, _ = _pip_noise(0.0, 2.0, n=5, bars=33)
    spans = [CameraSpan(0.0, 10.0, PIP_720)]
    cpu_check = feed(NoiseDetector(fps=FPS, profile=PROFILE, every=1, spans=spans), frames)
    gpu_check = feed(NoiseDetector(fps=FPS, profile=PROFILE, every=1, spans=spans),
                     [YUVFrame(*(cupy.asarray(p) for p in f)) for f in frames])
    assert gpu_check.status == cpu_check.status
    assert gpu_check.measured == pytest.approx(cpu_check.measured, abs=0.01)
    # colour jumps per tile and per camera region
    before, regions = _pip((1, 1, 1), (1, 1, 1))
    after, _ = _pip((1, 1, 1), CASTS["warm"])
    clip = [before] * 5 + [after] * 5
    spans = [CameraSpan(0.0, 10.0, regions)]
    for kwargs in ({}, {"spans": spans}):
        cpu_check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE, **kwargs), clip)
        gpu_check = feed(ColourJumpDetector(fps=FPS, profile=PROFILE, **kwargs),
                         [YUVFrame(*(cupy.asarray(p) for p in f)) for f in clip])
        assert (gpu_check.status, gpu_check.message) == (cpu_check.status, cpu_check.message)
    # interlacing (D7): idet's integer sums, identical
    woven = vs.pan_clip(180, 320, 4, speed=3.0)
    y = np.stack([f.y for f in woven])
    y[:, 1::2] = np.roll(y, -1, axis=0)[:, 1::2]           # each frame's bottom field later
    g = cupy.asarray(y)
    assert np.array_equal(field_sums(g[:-2], g[1:-1], g[2:]), field_sums(y[:-2], y[1:-1], y[2:]))


@pytest.mark.gpu
def test_cupy_freeze_parity(tmp_path, device_xp):
    """Frozen spans through the encoder's refreshes: the same stills on CuPy (block means
    compared on the device) as on NumPy."""
    cupy = device_xp
    path = tmp_path / "refreshed.mp4"
    _refreshed_clip(path)
    decoded = vs.decode(path)
    stills = []
    for to in (np.asarray, cupy.asarray):
        freeze = FreezeDetector(fps=FPS, profile=PROFILE)
        for k in range(0, len(decoded), 16):
            batch = vs.stack([f for f, _ in decoded[k:k + 16]])
            freeze.process_batch(YUVFrame(*(to(p) for p in batch)),
                                 [t for _, t in decoded[k:k + 16]])
        stills.append(freeze.stills())
    assert stills[1] == stills[0] and (0.0, 6.0) in stills[0]


# --------------------------------------------------------------------------- V3 camera match

def _pip(slides_gains, teacher_gains, *, h=360, w=640):
    """A picture-in-picture frame: the slides region large, the teacher region small (the
    layout's geometry), each a scene in its own white balance; returns the frame and the
    regions."""
    rgb = np.full((h, w, 3), 0.1)
    regions = {"slides": (16, 44, 448, 252), "teacher": (480, 44, 144, 82)}
    for source, gains in (("slides", slides_gains), ("teacher", teacher_gains)):
        x, y, rw, rh = regions[source]
        rgb[y: y + rh, x: x + rw] = vs.colour_scene(rh, rw, gains=gains, seed=len(source))
    return vs.rgb_to_yuv420(rgb), regions


def _camera_check(frames, spans):
    return feed(CameraMatchDetector(fps=FPS, profile=PROFILE, spans=spans, every=1), frames)


def test_camera_match_from_the_layout_regions():
    slight_warm, slight_cool = (1.04, 1.0, 0.95), (0.96, 1.0, 1.05)
    # each camera alone passes the white-balance limit ...
    for gains in (slight_warm, slight_cool):
        assert colour_cast(vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=gains)),
                           **RANGES).magnitude < V.cast_max
    matched, regions = _pip((1, 1, 1), (1, 1, 1))
    darker, _ = _pip((1, 1, 1), (0.6, 0.6, 0.6))       # exposure differs, colour does not
    apart, _ = _pip(slight_cool, slight_warm)          # ... but side by side they differ
    warm, _ = _pip((1, 1, 1), CASTS["warm"])
    spans = [CameraSpan(0.0, 10.0, regions)]
    ok = _camera_check([matched] * 3, spans)
    assert (ok.id, ok.clause, ok.status) == ("video.camera_match", "V3", "pass")
    assert ok.measured < 0.5
    assert _camera_check([darker] * 3, spans).status == "pass"
    truth = colour_cast(vs.rgb_to_yuv420(vs.colour_scene(82, 144, gains=slight_warm, seed=7)),
                        **RANGES)
    ref = colour_cast(vs.rgb_to_yuv420(vs.colour_scene(252, 448, gains=slight_cool, seed=6)),
                      **RANGES)
    expected = neutral_delta_e(truth.a, truth.b, ref.a, ref.b)
    assert expected > V.camera_delta_e_max
    bad = _camera_check([apart] * 3, spans)
    assert bad.status == "fail" and bad.measured == pytest.approx(expected, abs=0.3)
    assert len(bad.events) == 1 and bad.events[0].start_s == 0.0
    assert _camera_check([warm] * 3, spans).status == "fail"


def test_camera_match_at_a_layout_switch_and_without_regions():
    slides_full = vs.rgb_to_yuv420(vs.colour_scene(180, 320))
    teacher_warm = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=CASTS["warm"], seed=5))
    teacher_ok = vs.rgb_to_yuv420(vs.colour_scene(180, 320, seed=5))
    full = (0, 0, 320, 180)
    spans = [CameraSpan(0.0, 1.0, {"slides": full}), CameraSpan(1.0, 2.0, {"teacher": full})]
    ts = [i / FPS for i in range(50)]
    cut = _camera_check([slides_full] * 25 + [teacher_warm] * 25, spans)
    assert cut.status == "fail"
    assert [round(e.start_s, 2) for e in cut.events] == [1.0]
    assert "slides to teacher" in cut.events[0].detail
    smooth = feed(CameraMatchDetector(fps=FPS, profile=PROFILE, spans=spans, every=1),
                  [slides_full] * 25 + [teacher_ok] * 25, ts)
    assert smooth.status == "pass" and not smooth.events
    alone = _camera_check([slides_full] * 3, [])
    assert alone.status == "skip" and alone.measured is None
    qc = VideoQC(fps=FPS, profile=PROFILE)        # a file QC'd without its layout
    for i in range(3):
        qc.process(slides_full, i / FPS)
    assert {c.id: c.status for c in qc.finish()}["video.camera_match"] == "skip"


def test_cream_slides_captured_digitally_warn_filmed_ones_fail():
    """A cream slide template (cast ≈ 10) checked on its own: straight from a computer (no
    noise in the flat areas) it may be the author's colour, so V3 warns; the same slide
    filmed by a camera (sensor noise σ 1) is a camera's cast, so V3 fails."""
    clean, _ = vs.slide_luma(360, 640)
    cream = np.clip((clean / 255.0)[..., None] * np.array([0.99, 0.96, 0.86]), 0, 1)
    digital = vs.rgb_to_yuv420(cream)
    verdicts = {}
    for name, noise in (("digital", 0.0), ("filmed", 1.0)):
        qc = VideoQC(fps=FPS, profile=PROFILE)
        rng = np.random.default_rng(3)
        for i in range(10):
            y = np.clip(digital.y + rng.normal(0, noise, digital.y.shape), 0, 255)
            qc.process(YUVFrame(np.rint(y).astype(np.uint8), digital.u, digital.v), i / FPS)
        verdicts[name] = {c.id: c for c in qc.finish()}["video.white_balance"]
    assert verdicts["digital"].status == "warn"
    assert "no sensor noise" in verdicts["digital"].message
    assert verdicts["filmed"].status == "fail"
    assert verdicts["filmed"].measured == pytest.approx(verdicts["digital"].measured, abs=0.5)


def test_a_new_slide_captured_digitally_passes_a_filmed_colour_jump_fails():
    """A slides capture checked on its own (no layout) changing to a page of the template's
    cooler variant: straight from a computer (no noise in its flat areas) it is judged as
    an authored capture, where new content is a new slide, not a jump; the same change
    filmed by a camera (sensor noise σ 1) is a camera snapping, so it fails. The same page
    captured digitally turning cooler (the capture device switching its matrix) fails too,
    at the same moment."""
    cool = np.array([0.93, 0.97, 1.08])
    a, _ = vs.slide_luma(360, 640, seed=0)
    b, _ = vs.slide_luma(360, 640, seed=1)
    page, next_page = (np.repeat((x / 255)[..., None], 3, axis=2) for x in (a, b))
    films = {"new slide": [vs.rgb_to_yuv420(page)] * 10
             + [vs.rgb_to_yuv420(np.clip(next_page * cool, 0, 1))] * 10,
             "same slide": [vs.rgb_to_yuv420(page)] * 10
             + [vs.rgb_to_yuv420(np.clip(page * cool, 0, 1))] * 10}
    verdicts = {}
    for film, noise in (("new slide", 0.0), ("new slide", 1.0), ("same slide", 0.0)):
        qc = VideoQC(fps=FPS, profile=PROFILE)
        rng = np.random.default_rng(4)
        for i, f in enumerate(films[film]):
            y = np.clip(f.y + rng.normal(0, noise, f.y.shape), 0, 255)
            qc.process(YUVFrame(np.rint(y).astype(np.uint8), f.u, f.v), i / FPS)
        verdicts[film, noise] = {c.id: c for c in qc.finish()}["video.colour_jumps"]
        assert qc.captured() == (noise == 0.0)
    filmed, digital, fault = (verdicts["new slide", 1.0], verdicts["new slide", 0.0],
                              verdicts["same slide", 0.0])
    assert filmed.status == "fail" and _times(filmed) == [0.4], filmed
    assert (digital.status, digital.events) == ("pass", ()), digital
    assert "judged as a digital capture (no sensor noise): a colour change with new content " \
        "(content correlation under 0.98) is a new slide, not counted" in digital.message
    assert fault.status == "fail" and _times(fault) == [0.4], fault


def test_a_slides_captures_pages_are_not_freezes_a_frozen_camera_is():
    """Three slides held 2.4 s each, captured straight from a computer (no noise): as a raw
    source, pages held by design, not counted, the longest named; a camera (sensor noise
    σ 1, a new noise each frame) whose picture freezes for 2.4 s, the same noise repeated:
    not a capture, a freeze."""
    pages = [vs.slide_luma(180, 320, seed=k)[0] for k in range(3)]
    u, v = vs.flat_chroma(180, 320)
    digital = [YUVFrame(vs.to_u8(p), u, v) for p in pages for _ in range(60)][:-10]
    qc = VideoQC(fps=FPS, profile=PROFILE)
    for i, f in enumerate(digital):
        qc.process(f, i / FPS)
    still = {c.id: c for c in qc.finish()}["video.freeze"]
    assert qc.captured() and still.status == "warn" and len(still.events) == 3, still
    pages_check = as_capture(still)
    assert (pages_check.status, pages_check.measured, pages_check.events) == ("pass", 0.0, ())
    assert "whose 3 still stretch(es) of 2 s or more (6.8 s in all) are its pages" in \
        pages_check.message, pages_check.message
    assert "the longest, 00:00:00.000–00:00:02.400 (2.4 s)" in pages_check.message

    _, flat = vs.slide_luma(180, 320, seed=0)
    filmed = [YUVFrame(vs.add_noise(pages[0], 1.0, seed=i, mask=flat)[0], u, v)
              for i in range(60)]
    filmed += [filmed[-1]] * 60 + [YUVFrame(vs.add_noise(pages[0], 1.0, seed=100 + i,
                                                         mask=flat)[0], u, v)
                                   for i in range(30)]
    qc = VideoQC(fps=FPS, profile=PROFILE)
    for i, f in enumerate(filmed):
        qc.process(f, i / FPS)
    frozen = {c.id: c for c in qc.finish()}["video.freeze"]
    assert not qc.captured()
    assert frozen.status == "warn" and _times(frozen) == [2.36], frozen


def test_white_balance_judges_only_the_camera_pictures_when_the_layout_is_known():
    """The provincial intro and the cards are authored graphics: with the render's spans the
    cast is measured in the camera regions only, outside them not at all."""
    cool_card = vs.rgb_to_yuv420(vs.colour_scene(180, 320, gains=(0.85, 1.0, 1.2), seed=9))
    camera = vs.rgb_to_yuv420(vs.colour_scene(180, 320))
    # beside the camera picture, a graphic with a strong cast (a caption bar, a logo)
    framed = np.concatenate([vs.colour_scene(180, 160), vs.colour_scene(
        180, 160, gains=(0.85, 1.0, 1.2), seed=9)], axis=1)
    frames = [cool_card] * 30 + [camera] * 20 + [vs.rgb_to_yuv420(framed)] * 20
    whole = feed(WhiteBalanceDetector(fps=FPS, profile=PROFILE), frames)
    assert whole.status == "fail" and whole.events
    spans = [CameraSpan(30 / FPS, 50 / FPS, {"teacher": (0, 0, 320, 180)}),
             CameraSpan(50 / FPS, 70 / FPS, {"teacher": (0, 0, 160, 180)})]
    judged = feed(WhiteBalanceDetector(fps=FPS, profile=PROFILE, spans=spans), frames)
    assert judged.status == "pass" and not judged.events, judged
    assert judged.measured < 1.0 and "camera pictures only" in judged.message


def test_still_cards_are_not_frozen_lectures_when_the_layout_is_known():
    """A 3-s still card before the lecture is furniture; a 2.4-s freeze inside the lecture is
    a fault either way."""
    card = vs.rgb_to_yuv420(vs.colour_scene(180, 320, seed=11))
    lecture = vs.pan_clip(180, 320, 150, speed=1.0)
    lecture[60:120] = [lecture[60]] * 60                 # planted: frozen 2.4 s
    frames = [card] * 75 + lecture
    spans = [CameraSpan(75 / FPS, 225 / FPS, {"teacher": (0, 0, 320, 180)})]

    def freeze(cameras):
        qc = VideoQC(fps=FPS, profile=PROFILE, cameras=cameras)
        for i, f in enumerate(frames):
            qc.process(f, i / FPS)
        return {c.id: c for c in qc.finish()}["video.freeze"]

    starts = [round(e.start_s, 1) for e in freeze(None).events]
    assert starts == [0.0, round(136 / FPS, 1)]         # card and planted freeze
    only = freeze(spans)
    assert [round(e.start_s, 1) for e in only.events] == [round(136 / FPS, 1)]
    assert only.measured == pytest.approx(2.4, abs=0.1)


# --------------------------------------------------------------------------- B3 slides layout

def test_the_slides_place_in_the_layout():
    """B3 from the layout as shown: picture-in-picture (the slides fitted in 75 % of the
    width and height) passes; side by side (a quarter of the frame) is a warning to check
    the smallest text; a teacher painted over the slides fails, naming the stretch; slides
    alone pass; without a layout, or without slides, it is skipped."""
    from courseware.compose import fit, region_px
    from encoder_profiles import load_layout
    from qc_metrics.layout import slides_layout

    def shown(name, a=0.0, b=10.0):
        regions = region_px(load_layout(name), 1280, 720)
        return CameraSpan(a, b, {s: tuple(vars(fit(r, 1920, 1080))[k] for k in "xywh")
                                 for s, r in regions.items()})

    pip = slides_layout([shown("pip")], size=(1280, 720), profile=PROFILE)
    assert (pip.id, pip.clause, pip.status) == ("video.slides_layout", "B3", "pass")
    assert pip.measured == pytest.approx(960 * 540 / (1280 * 720), abs=1e-4)
    side = slides_layout([shown("pip", 0, 10), shown("side_by_side", 10, 25)],
                         size=(1280, 720), profile=PROFILE)
    assert side.status == "warn" and side.measured == pytest.approx(0.25, abs=1e-3), side
    assert [(e.start_s, e.end_s) for e in side.events] == [(10, 25)]
    assert "check that their smallest text still reads" in side.message
    over = CameraSpan(25, 30, {"slides": (0, 0, 1280, 720), "teacher": (960, 480, 320, 240)})
    covered = slides_layout([shown("pip"), over], size=(1280, 720), profile=PROFILE)
    assert covered.status == "fail" and [e.start_s for e in covered.events] == [25], covered
    assert "00:00:25.000–00:00:30.000: 8 % of the slides covered by teacher" in \
        covered.events[0].detail
    alone = slides_layout([shown("slides_only")], size=(1280, 720), profile=PROFILE)
    assert (alone.status, alone.measured) == ("pass", None)
    for spans in ([], [shown("teacher_only")]):
        assert slides_layout(spans, size=(1280, 720), profile=PROFILE).status == "skip"


def test_a_layout_painting_over_the_slides_is_refused():
    from pydantic import ValidationError

    from encoder_profiles import Layout

    regions = [{"source": "slides", "x": 0.0, "y": 0.0, "w": 1.0, "h": 1.0},
               {"source": "teacher", "x": 0.75, "y": 0.75, "w": 0.25, "h": 0.25}]
    with pytest.raises(ValidationError, match="painted over the slides"):
        Layout.model_validate({"name": "corner", "background": [0, 0, 0], "regions": regions})
    # under the slides (painted first) it is covered itself: the slides stay whole
    Layout.model_validate({"name": "under", "background": [0, 0, 0],
                           "regions": regions[::-1]})
