"""AAC fill-element padding: exact sizes, constant rate, bit-identical decoding (D9)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from audio_signals import decoded_sound

from courseware.aac import CbrPadder, pad_raw_frame


@pytest.mark.parametrize("size", [1, 6, 200, 341])
def test_every_extra_size_is_reachable(size: int) -> None:
    data = bytes(range(1, size + 1)) if size < 256 else b"\x21" * size
    for extra in range(0, 700):
        assert len(pad_raw_frame(data, size + extra)) == size + extra


def _encode(path: Path, signal: np.ndarray, *, pad: bool) -> tuple[list[int], CbrPadder]:
    out = av.open(str(path), "w", format="mp4")
    stream = out.add_stream("aac", rate=48000, layout="stereo")
    stream.bit_rate = 128000
    padder = CbrPadder(bitrate=128000, sample_rate=48000)
    sizes = []

    def mux(frame: av.AudioFrame | None) -> None:
        for packet in stream.encode(frame):
            data = padder.pad(bytes(packet)) if pad else bytes(packet)
            sizes.append(len(data))
            new = av.Packet(data)
            new.pts, new.dts, new.duration = packet.pts, packet.dts, packet.duration
            new.time_base, new.stream = packet.time_base, stream
            out.mux(new)

    for k in range(0, signal.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(signal[:, k:k + 1024]),
                                           format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, k, Fraction(1, 48000)
        mux(frame)
    mux(None)
    out.close()
    return sizes, padder


def test_padded_stream_is_constant_rate_and_decodes_identically(tmp_path: Path) -> None:
    rate = 48000
    t = np.arange(rate * 4) / rate
    # speech-like: a tone switched on and off, with silent pauses (the encoder spends little)
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.7 * t) > 0.3)
    signal = np.stack([tone, tone]).astype(np.float32)
    plain, _ = _encode(tmp_path / "plain.mp4", signal, pad=False)
    padded, padder = _encode(tmp_path / "padded.mp4", signal, pad=True)
    assert sum(plain) * 8 / 4 < 120_000  # the native encoder alone is well under 128 kbps
    # on the constant-rate line: 128 kbps · 1024 / 48 kHz / 8 = 341.33 bytes a frame, onsets
    # borrowing at most one decoder buffer (6144 bits per channel, ISO/IEC 14496-3)
    line = np.arange(1, len(padded) + 1) * 128000 * 1024 // (rate * 8)
    debt = np.cumsum(padded) - line
    assert debt.min() >= 0 and debt.max() == padder.max_debt <= 2 * 6144 // 8
    assert debt[-1] <= 1 and np.mean(np.isin(padded, [341, 342])) > 0.5
    avg = sum(padded) * 8 * rate / (1024 * len(padded))
    assert avg == pytest.approx(128000, abs=50)
    np.testing.assert_array_equal(decoded_sound(tmp_path / "plain.mp4"),
                                  decoded_sound(tmp_path / "padded.mp4"))


def test_delivery_writer_stays_inside_the_decoder_buffer_on_bursts(tmp_path: Path) -> None:
    """Loud noise bursts after silence: the worst case for the encoder's rate control."""
    from courseware.media import DeliveryWriter, rgb_to_frame
    from courseware.probe import probe_media
    from encoder_profiles import load_profile
    from qc_metrics.format import check_format

    profile = load_profile()
    rate, fps, seconds = 48000, 25, 8
    rng = np.random.default_rng(7)
    t = np.arange(rate * seconds) / rate
    audio = (0.3 * rng.standard_normal((2, t.size)) * (np.sin(2 * np.pi * 0.4 * t) > 0.2))
    frame = rgb_to_frame(np.zeros((720, 1280, 3), np.uint8))
    path = tmp_path / "bursts.mp4"
    spf = rate // fps
    with DeliveryWriter(path, profile) as writer:
        for i in range(seconds * fps):
            writer.write(frame, audio[:, i * spf:(i + 1) * spf].astype(np.float32))
        padder = writer.padder
    assert padder.max_debt <= 2 * CbrPadder.BUFFER_BITS_PER_CHANNEL // 8
    checks = {c.id: c for c in check_format(probe_media(path, window_s=2.0), profile)}
    assert checks["format.audio_bitrate"].status == "pass", checks["format.audio_bitrate"]
