"""Measure a media file's format figures for the delivery clauses (D2–D10).

``probe_media`` demuxes packets only (no decoding beyond the first few video frames, which
tell the scan type and how the pictures are coded), so it is fast and memory-flat on
hour-long lectures: per stream it keeps running sums, a dictionary of per-window byte counts
and an array of video timestamps.
The ISO BMFF box layout (moov before mdat, D10) is read from the top-level box headers.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise
from math import gcd
from pathlib import Path

import av

from courseware.errors import CorruptMediaError, MissingSourceError
from courseware.isobmff import top_boxes
from courseware.media import open_media

SCAN_FRAMES = 8  # decoded frames that decide the scan type (D7)
#: transfer characteristics (ITU-T H.273, AVColorTransferCharacteristic), FFmpeg's names
_TRANSFER = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m",
             8: "linear", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
             14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428",
             18: "arib-std-b67"}
#: the transfers of high dynamic range video (a phone's default HDR video), by short name
HDR_TRANSFERS = {"smpte2084": "PQ", "arib-std-b67": "HLG"}
# AVFieldOrder (libavcodec/defs.h)
_FIELD_ORDER = {0: "unknown", 1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}


def transfer_name(code: int | None) -> str | None:
    """FFmpeg's name of an H.273 transfer characteristic; None: unspecified or unknown."""
    return _TRANSFER.get(int(code or 0))


@dataclass(frozen=True)
class VideoProbe:
    codec: str  # FFmpeg codec name: "h264", "mpeg4", …
    profile: str | None  # "High", "Main", …
    width: int
    height: int
    sample_aspect: tuple[int, int]  # pixel aspect (1, 1) = square pixels
    display_aspect: tuple[int, int]  # reduced width·SAR : height, e.g. (16, 9)
    fps: float  # average over the stream, from the presentation timestamps
    frames: int
    frame_interval_min_s: float
    frame_interval_max_s: float
    timestamp_tick_s: float  # one unit of the stream's time base (rounding of intervals)
    interlaced: bool
    field_order: str  # "progressive", "tt", "bb", "tb", "bt" or "unknown"
    #: display rotation the file asks players for, degrees counterclockwise (0: upright)
    rotation: int
    bitrate_kbps: float  # average over the stream's span, from packet sizes
    bitrate_min_kbps: float | None  # over complete windows of ``window_s``; None if none
    bitrate_max_kbps: float | None
    duration_s: float
    #: the decoded pictures' FFmpeg pixel format ("yuv420p", "yuv420p10le", …), its bits per
    #: sample and chroma sampling ("4:2:0", "4:2:2", "4:4:4", "4:0:0", "RGB"); None: unknown
    pixel_format: str | None = None
    bit_depth: int | None = None
    chroma: str | None = None
    #: transfer characteristics the stream is tagged with (ITU-T H.273 as FFmpeg names them:
    #: "bt709", "smpte2084" is PQ, "arib-std-b67" is HLG, …); None: not tagged
    transfer: str | None = None


@dataclass(frozen=True)
class AudioProbe:
    codec: str  # "aac", "mp3", …
    profile: str | None  # "LC", "HE-AAC", …
    sample_rate: int
    channels: int
    frame_samples: int  # samples per coded frame (1024 for AAC-LC)
    packets: int
    packet_bytes_min: int
    packet_bytes_max: int
    packet_bytes_mean: float
    # D9 "constant": peak-to-peak distance (bytes) between the cumulative packet sizes and
    # a constant-rate line at the mean size, i.e. the decoder buffer a constant-rate channel
    # would need. A padded CBR stream stays within a few bytes; an average-bit-rate encoder
    # spends little on pauses and drifts by kilobytes.
    rate_deviation_bytes: float
    bitrate_kbps: float
    bitrate_min_kbps: float | None
    bitrate_max_kbps: float | None
    duration_s: float
    tracks: int = 1  # audio streams in the file (this probe is the first's)


@dataclass(frozen=True)
class MediaProbe:
    path: str
    format_names: tuple[str, ...]  # PyAV's format.name split at commas
    is_iso_bmff: bool
    major_brand: str | None  # ftyp major brand ("isom", "mp42", "qt  ") when ISO BMFF
    faststart: bool | None  # moov before mdat (D10); None when not ISO BMFF
    duration_s: float
    video: VideoProbe | None
    audio: AudioProbe | None


def _where(path: Path, lecture: str | None) -> str:
    return f"{path}" + (f" (lecture {lecture})" if lecture else "")


class _Rate:
    """Bytes and timestamps of one stream's packets, accumulated in constant memory
    (plus one bucket per window and, for video, one timestamp per frame)."""

    def __init__(self, time_base: Fraction, window_s: float, keep_pts: bool) -> None:
        self.tb = time_base
        self.window_s = window_s
        self.origin: int | None = None
        self.end = 0  # last timestamp + duration, in time-base units
        self.bytes = 0
        self.packets = 0
        self.windows: dict[int, int] = {}
        # video keeps its timestamps (frame intervals, D6), audio its packet sizes (D9)
        self.pts: array[int] | None = array("q") if keep_pts else None
        self.sizes: array[int] | None = None if keep_pts else array("i")

    def add(self, packet: av.Packet) -> None:
        ts = packet.dts if packet.dts is not None else packet.pts
        if ts is None:
            return
        if self.origin is None:
            self.origin = ts
        self.packets += 1
        self.bytes += packet.size
        if self.sizes is not None:
            self.sizes.append(packet.size)
        self.end = max(self.end, ts + (packet.duration or 0))
        index = int(float((ts - self.origin) * self.tb) // self.window_s)
        self.windows[index] = self.windows.get(index, 0) + packet.size
        if self.pts is not None and packet.pts is not None:
            self.pts.append(packet.pts)

    @property
    def span_s(self) -> float:
        return float((self.end - (self.origin or 0)) * self.tb)

    def kbps(self) -> tuple[float, float | None, float | None]:
        """Average, min and max windowed bit rate (D3, D9); complete windows only."""
        span = self.span_s
        average = self.bytes * 8 / span / 1000 if span > 0 else 0.0
        complete = int(span // self.window_s)
        rates = [self.windows.get(i, 0) * 8 / self.window_s / 1000 for i in range(complete)]
        return average, (min(rates) if rates else None), (max(rates) if rates else None)


def probe_media(path: Path, *, window_s: float, lecture: str | None = None) -> MediaProbe:
    """Format figures of ``path`` for the delivery clauses; ``window_s`` is the window of
    the windowed bit rates (D3: profile ``delivery.bitrate_window_s``)."""
    where = _where(path, lecture)
    if not path.is_file():
        raise MissingSourceError(f"{where}: file not found; check the path or upload the file")
    try:
        is_iso, brand, faststart = _iso_boxes(path)
    except OSError as exc:
        raise CorruptMediaError(
            f"{where}: cannot be read ({exc.strerror}); check its permissions or copy it "
            "again") from exc
    scan = _first_frames(path, where)
    container = open_media(path, where=where)
    with container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise CorruptMediaError(
                f"{where}: holds no video or audio stream; re-export it as an MP4 "
                "with H.264 video and AAC audio")
        streams = [s for s in (video, audio) if s is not None]
        rates = {s.index: _Rate(s.time_base or Fraction(1, 90000), window_s, s is video)
                 for s in streams}
        try:
            for packet in container.demux(streams):
                if packet.size:
                    rates[packet.stream_index].add(packet)
        except av.FFmpegError as exc:
            raise CorruptMediaError(
                f"{where}: reading failed ({exc}); the file is damaged: re-export or "
                "re-upload it") from exc
        v = _video(video, rates[video.index], scan) if video is not None else None
        a = (replace(_audio(audio, rates[audio.index]), tracks=len(container.streams.audio))
             if audio is not None else None)
        duration = (container.duration / av.time_base if container.duration
                    else max((x.duration_s for x in (v, a) if x is not None), default=0.0))
        return MediaProbe(
            path=str(path), format_names=tuple(container.format.name.split(",")),
            is_iso_bmff=is_iso, major_brand=brand, faststart=faststart,
            duration_s=float(duration), video=v, audio=a)


@dataclass(frozen=True)
class _FirstFrames:
    """What the first decoded frames tell: the scan type (D7), the display rotation (D5) and
    the pictures' coding (D2: pixel format, transfer)."""

    interlaced: bool = False
    order: str = "unknown"
    rotation: int = 0
    pixel_format: str | None = None
    bit_depth: int | None = None
    chroma: str | None = None
    transfer: str | None = None


def _first_frames(path: Path, where: str) -> _FirstFrames:
    """The first decoded frames (D7: a frame coded as fields or MBAFF is flagged interlaced
    by the H.264 decoder)."""
    container = open_media(path, where=where)
    with container:
        if not container.streams.video:
            return _FirstFrames()
        stream = container.streams.video[0]
        interlaced = False
        first: av.VideoFrame | None = None
        try:
            for i, frame in enumerate(container.decode(stream)):
                interlaced |= bool(frame.interlaced_frame)
                if first is None:
                    first = frame
                if i + 1 >= SCAN_FRAMES:
                    break
        except av.FFmpegError as exc:
            raise CorruptMediaError(
                f"{where}: video cannot be decoded ({exc}); re-export or re-upload the file"
            ) from exc
        order = _FIELD_ORDER.get(int(stream.codec_context.field_order or 0), "unknown")
        interlaced = interlaced or order not in ("progressive", "unknown")
        if first is None:
            return _FirstFrames(interlaced, order)
        fmt = first.format
        return _FirstFrames(interlaced, order, round(first.rotation), fmt.name,
                            max(c.bits for c in fmt.components), _chroma(fmt),
                            transfer_name(first.color_trc))


def _chroma(fmt: av.VideoFormat) -> str:
    """Chroma sampling of a pixel format: "4:2:0", "4:2:2", "4:4:4", "4:0:0" or "RGB"."""
    if fmt.is_rgb:
        return "RGB"
    luma, *chroma = fmt.components
    if not chroma:
        return "4:0:0"
    c = chroma[0]
    if c.width == luma.width:
        return "4:4:4"
    return "4:2:2" if c.height == luma.height else "4:2:0"


def _video(stream: av.video.stream.VideoStream, rate: _Rate, scan: _FirstFrames,
           ) -> VideoProbe:
    cc = stream.codec_context
    sar = Fraction(cc.sample_aspect_ratio or 1)
    if sar <= 0:
        sar = Fraction(1)
    dar = Fraction(cc.width, cc.height) * sar if cc.height else Fraction(0)
    tb = rate.tb
    pts = sorted(rate.pts or ())
    if len(pts) >= 2:
        deltas = [b - a for a, b in pairwise(pts)]
        lo, hi = float(min(deltas) * tb), float(max(deltas) * tb)
        fps = (len(pts) - 1) / float((pts[-1] - pts[0]) * tb) if pts[-1] > pts[0] else 0.0
    else:
        fps = float(stream.average_rate or 0)
        lo = hi = 1 / fps if fps else 0.0
    average, low, high = rate.kbps()
    return VideoProbe(
        codec=cc.name, profile=cc.profile, width=cc.width, height=cc.height,
        sample_aspect=(sar.numerator, sar.denominator),
        display_aspect=_reduced(dar),
        fps=fps, frames=rate.packets, frame_interval_min_s=lo, frame_interval_max_s=hi,
        timestamp_tick_s=float(tb), interlaced=scan.interlaced, field_order=scan.order,
        rotation=scan.rotation,
        bitrate_kbps=average, bitrate_min_kbps=low, bitrate_max_kbps=high,
        duration_s=rate.span_s, pixel_format=scan.pixel_format, bit_depth=scan.bit_depth,
        chroma=scan.chroma, transfer=scan.transfer)


def _audio(stream: av.audio.stream.AudioStream, rate: _Rate) -> AudioProbe:
    cc = stream.codec_context
    average, low, high = rate.kbps()
    sizes = rate.sizes or array("i")
    mean = sum(sizes) / len(sizes) if sizes else 0.0
    cumulative, low_dev, high_dev = 0, 0.0, 0.0
    for k, size in enumerate(sizes, 1):
        cumulative += size
        low_dev = min(low_dev, cumulative - k * mean)
        high_dev = max(high_dev, cumulative - k * mean)
    return AudioProbe(
        codec=cc.name, profile=cc.profile, sample_rate=cc.sample_rate, channels=cc.channels,
        frame_samples=cc.frame_size, packets=rate.packets,
        packet_bytes_min=min(sizes, default=0), packet_bytes_max=max(sizes, default=0),
        packet_bytes_mean=mean, rate_deviation_bytes=high_dev - low_dev,
        bitrate_kbps=average, bitrate_min_kbps=low, bitrate_max_kbps=high,
        duration_s=rate.span_s)


def _reduced(ratio: Fraction) -> tuple[int, int]:
    num, den = ratio.numerator, ratio.denominator
    g = gcd(num, den) or 1
    return num // g, den // g


def _iso_boxes(path: Path) -> tuple[bool, str | None, bool | None]:
    """(is ISO BMFF, ftyp major brand, moov before mdat) from the top-level boxes."""
    order = top_boxes(path)
    if not order or order[0] != b"ftyp" or b"moov" not in order:
        return False, None, None
    with path.open("rb") as f:
        f.seek(8)
        brand = f.read(4).decode("ascii", "replace")
    faststart = b"mdat" not in order or order.index(b"moov") < order.index(b"mdat")
    return True, brand, faststart
