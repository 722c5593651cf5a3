"""Media I/O on PyAV: streaming readers (constant-rate frames, fixed-size audio blocks)
and the delivery writer (x264 CBR + AAC-LC CBR in MP4 with faststart).

Everything streams: a reader holds one decoded frame at a time, the writer one frame's
worth of audio, so memory is flat in the length of a lecture.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np

from courseware.aac import CbrPadder
from courseware.audio_chain import Declipper
from courseware.errors import CorruptMediaError
from courseware.isobmff import top_boxes
from courseware.subtitles import ASS_HEADER, Cue, mov_text_sample
from courseware.worker import OrderedWorker
from encoder_profiles import Profile
from qc_metrics.audio import CLIP_LEVEL

AAC_FRAME = 1024


def _where(path: Path, lecture: str | None) -> str:
    return f"{path}" + (f" (lecture {lecture})" if lecture else "")


#: a recording split into several files is read through FFmpeg's concat list of them
#: (tasks.probe.join_parts): every reader opens it as one file, the parts one after another
PARTS_SUFFIX = ".ffconcat"


def open_container(path: Path) -> av.container.InputContainer:
    """``av.open`` for reading, a concat list of a recording's parts included."""
    if path.suffix == PARTS_SUFFIX:  # the list names the parts by absolute paths
        return av.open(str(path), format="concat", options={"safe": "0"})
    return av.open(str(path))


def open_media(path: Path, *, lecture: str | None = None, where: str | None = None
               ) -> av.container.InputContainer:
    """A source file opened for reading; a file that is not a recording (a slide deck, a
    still picture, an archive, a saved web page, an empty file) is an error saying so.
    ``where``: how errors name the file (else by its path and ``lecture``)."""
    where = where or _where(path, lecture)
    if path.suffix != PARTS_SUFFIX and (kind := not_a_recording(path)) is not None:
        raise CorruptMediaError(f"{where}: {kind}")
    try:
        return open_container(path)
    except av.FFmpegError as exc:
        raise unreadable(path, where, exc) from exc


_RECORD_IT = ("not a recording. Sources are the recordings made in class (B1): for the slides, "
              "a capture of the screen or the projector's signal as the lecturer showed them, "
              "which the film shows in step with the lecture; name that video file here")

#: leading bytes of files people hand in instead of a recording, and what each is
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", f"a PDF document, {_RECORD_IT}"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     f"an Office document (PowerPoint, Word or Excel, 97–2003), {_RECORD_IT}"),
    (b"\x89PNG", f"a still picture (PNG), {_RECORD_IT}"),
    (b"\xff\xd8\xff", f"a still picture (JPEG), {_RECORD_IT}"),
    (b"GIF8", f"a picture (GIF), {_RECORD_IT}"),
    (b"BM", f"a still picture (BMP), {_RECORD_IT}"),
    (b"Rar!", "a RAR archive: unpack it and name the recording inside it"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive: unpack it and name the recording inside it"),
)


def not_a_recording(path: Path) -> str | None:
    """What a file is, with what to do, when it is plainly not a recording: a document, a
    still picture, an archive, a web page (a download link saved as the page), an empty
    file. None: it may be one (FFmpeg decides)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if size == 0:
        return ("the file is empty (0 bytes): its copy or upload did not finish; copy or "
                "upload it again")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return f"a still picture (WebP), {_RECORD_IT}"
    if head[:4] == b"PK\x03\x04":
        import zipfile

        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError):
            names = []
        for folder, what in (("ppt/", "a PowerPoint deck"), ("word/", "a Word document"),
                             ("xl/", "an Excel workbook")):
            if any(n.startswith(folder) for n in names):
                return f"{what}, {_RECORD_IT}"
        return "a ZIP archive: unpack it and name the recording inside it"
    if head.lstrip()[:15].lower() in (b"<!doctype html>", ) or b"<html" in head[:200].lower():
        return ("a web page (HTML), not a recording: a download link saved as the page (a "
                "cloud drive's share page?); download the file itself")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    return None


def unreadable(path: Path, where: str, exc: Exception) -> CorruptMediaError:
    """The error for a file FFmpeg cannot open: what is wrong with it where that can be
    told (an MP4 / MOV recording that was never closed), and what to do."""
    if unclosed_mp4(path):
        return CorruptMediaError(
            f"{where}: an MP4/MOV file without its index (no 'moov' box after its "
            "media data): the recording was not closed (power lost, the card taken out while "
            "recording) or the copy was cut short, and no player can read it. If the file on "
            "the camera's card plays, copy or upload it again; otherwise a repair tool such "
            "as untrunc rebuilds the index from a good file recorded by the same camera at "
            "the same settings")
    return CorruptMediaError(f"{where}: cannot be read as media ({exc}); re-export or "
                             "re-upload the file")


def unclosed_mp4(path: Path) -> bool:
    """An ISO BMFF file (``ftyp`` first) with media data but no ``moov`` box."""
    try:
        kinds = top_boxes(path)
    except OSError:
        return False
    return kinds[:1] == [b"ftyp"] and b"mdat" in kinds and b"moov" not in kinds


def origin_s(container: av.container.InputContainer) -> float:
    """A file's time zero: the start of its earliest stream (FFmpeg's ``start_time``). A
    camera's MPEG-TS / AVCHD file starts at 1.4 s or more, and its sound may start before or
    after its pictures; the readers place both from here, as a player does. A recording
    split into files (a concat list) starts where its first part does: FFmpeg's concat
    timeline puts that at 0, and a first AAC frame's priming before it."""
    if container.format.name == "concat":
        return 0.0
    start = container.start_time
    return start / 1_000_000 if start is not None else 0.0


#: sound whose timestamps run this far ahead of (behind) the samples counted so far has a
#: gap (an overlap): filled with silence (trimmed), so the sound stays with its pictures
AUDIO_GAP_S = 0.03


class SoundClock:
    """Places decoded sound by its timestamps, as a player does: ``origin`` is time zero
    (sample 0). ``place(time)`` before each decoded frame: the stream's clock starts at the
    first frame's time and then runs by the samples it gives, unless a frame's time is off
    by more than AUDIO_GAP_S (a gap or an overlap: kept in ``breaks``, the clock jumps to
    it). ``take(samples)`` after resampling: the samples where the clock puts them, silence
    first where they start after what was given (sound that starts after the pictures, a
    gap), their head left out where they overlap it."""

    def __init__(self, *, origin: float, rate: int) -> None:
        self.origin, self.rate = float(origin), int(rate)
        self.pos = 0                        # samples given so far
        self._next: float | None = None     # stream time of the next sample to take
        #: (time, seconds) of each break after the start: > 0 a gap filled with silence,
        #: < 0 an overlap left out
        self.breaks: list[tuple[float, float]] = []

    def place(self, time: float | None) -> None:
        if time is None:
            return
        if self._next is None:
            self._next = float(time)
        elif abs(float(time) - self._next) > AUDIO_GAP_S:
            if self.pos > 0:
                self.breaks.append((self._next, float(time) - self._next))
            self._next = float(time)

    def take(self, x: np.ndarray) -> np.ndarray:
        if self._next is None:
            self._next = self.origin
        at = round((self._next - self.origin) * self.rate)   # where x's first sample goes
        self._next += x.shape[1] / self.rate
        if at > self.pos:
            x = np.concatenate([np.zeros((x.shape[0], at - self.pos), x.dtype), x], axis=1)
        elif at < self.pos:
            x = x[:, self.pos - at:]
        self.pos += x.shape[1]
        return x


#: audio codecs that keep every sample as recorded: a clipped run is still flat at the level
#: it clipped at (a lossy codec's decoder smears it into ripples around that level)
LOSSLESS_AUDIO = ("pcm_", "flac", "alac", "wavpack", "tta", "mlp", "truehd", "s302m")


def audio_format(path: Path, stream: int = 0, *, lecture: str | None = None
                 ) -> tuple[str, int]:
    """The codec ("aac", "pcm_s24le", …) and sample rate of the file's ``stream``-th audio
    track."""
    with open_media(path, lecture=lecture) as container:
        ctx = container.streams.audio[stream].codec_context
        return str(ctx.name), int(ctx.sample_rate or 0)


def lossless_audio(codec: str) -> bool:
    return codec.startswith(LOSSLESS_AUDIO)


#: where a seek lands after the time asked (a file without an index: MPEG-TS), seek this much
#: earlier, then more, until the first frame decoded is at or before it
SEEK_BACK_S = (0.0, 2.0, 10.0, 60.0)
#: a reader that starts further into a file than this seeks there (to the keyframe before
#: it) instead of decoding its way there: a lecture's start after the setting up, a second
#: lecture in the same recording, a camera switched on minutes before the others
SEEK_FROM_S = 5.0


def seek_before(container: av.container.InputContainer,
                stream: av.video.stream.VideoStream | av.audio.stream.AudioStream | None,
                at: float, *, origin: float) -> None:
    """Seek so that decoding ``stream`` gives its frames from ``at`` (from the file's start)
    on: to the keyframe before it, by the file's index; in a file without one (MPEG-TS),
    earlier and earlier (``SEEK_BACK_S``) until the first frame decoded comes at or before
    ``at`` (a seek lands on any packet, and pictures decode from the next keyframe); at worst
    the file's start. None: any seek will do (sound alone needs no keyframe)."""
    for back in SEEK_BACK_S:
        if at - back <= 0:
            break
        target = round((at - back + origin) * 1_000_000)
        container.seek(target, backward=True)
        if stream is None:
            return
        first = next((t - origin for packet in container.demux(stream)
                      for f in packet.decode() if (t := getattr(f, "time", None)) is not None),
                     None)
        if first is not None and first <= at + 1e-6:
            container.seek(target, backward=True)
            return
    container.seek(round(origin * 1_000_000), backward=True)


def timed_audio(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                resampler: av.AudioResampler, rate: int, *,
                start_s: float = 0.0) -> Iterator[np.ndarray]:
    """The stream's samples through ``resampler`` (to ``rate``), placed by their timestamps
    from ``start_s`` after the file's origin (:class:`SoundClock`; a later start seeks
    there first). Raises av.FFmpegError on damaged audio."""
    origin = origin_s(container) + start_s
    if start_s > 0:      # a second before, for the decoder's overlap with the frame before
        seek_before(container, stream, start_s - 1.0, origin=origin_s(container))
    clock = SoundClock(origin=origin, rate=rate)
    for frame in itertools.chain(_padding_cut(container.decode(stream)), [None]):
        if frame is not None:
            clock.place(frame.time)
        for out in resampler.resample(frame):
            if out is None:            # a pass-through resampler echoes the flush
                continue
            x = clock.take(out.to_ndarray())
            if x.shape[1]:
                yield x


#: a decoded frame that runs on this far (up to AUDIO_GAP_S) past where the next one starts
#: ends in padding: a file's last AAC frame, under the first sound of the next part of a
#: recording split into files (within a file, frames follow each other to the sample)
PADDING_MIN_S = 0.002


def _padding_cut(frames: Iterable[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Decoded frames, each held until the next one's time is known, its tail left out where
    it runs on under the next (PADDING_MIN_S to AUDIO_GAP_S): the encoder's padding that
    ends one part of a split recording is not played between the parts."""
    held: av.AudioFrame | None = None
    for frame in frames:
        if held is not None:
            yield _cut_under(held, frame)
        held = frame
    if held is not None:
        yield held


def _cut_under(frame: av.AudioFrame, after: av.AudioFrame) -> av.AudioFrame:
    if frame.time is None or after.time is None or not frame.sample_rate:
        return frame
    over = frame.time + frame.samples / frame.sample_rate - after.time
    keep = frame.samples - round(over * frame.sample_rate)
    if not PADDING_MIN_S <= over < AUDIO_GAP_S or keep <= 0:
        return frame
    x: np.ndarray[Any, Any] = frame.to_ndarray()
    channels = 1 if frame.format.is_planar else x.shape[1] // frame.samples
    cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, :keep * channels]),
                                     format=frame.format.name, layout=frame.layout.name)
    cut.sample_rate, cut.pts, cut.time_base = frame.sample_rate, frame.pts, frame.time_base
    return cut


#: frames looked at to decide whether a source is interlaced (D7: detected, never assumed)
INTERLACE_PROBE_FRAMES = 8


def _deinterlacer(stream: av.video.stream.VideoStream, first: av.VideoFrame,
                  order: str | None = None) -> av.filter.Graph:
    """libavfilter: buffer → bwdif (one frame out per frame in) → buffersink. Without
    ``order``: field order from the frames' flags, only frames flagged interlaced touched;
    with ``order`` ("tff"/"bff"): every frame, in that order (flags that say progressive
    about an interlaced picture are wrong)."""
    how = f"parity={order}:deint=all" if order else "parity=auto:deint=interlaced"
    return _graph(stream, first, f"bwdif=mode=send_frame:{how}")


def _pull(graph: av.filter.Graph) -> Iterator[av.VideoFrame]:
    while True:
        try:
            frame = graph.vpull()
        except (av.BlockingIOError, av.EOFError):
            return
        yield frame


def _progressive(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                 deinterlace: bool | str | None) -> Iterator[av.VideoFrame]:
    """Decoded frames, deinterlaced (D7) when ``deinterlace`` is True, or when None and any of
    the first frames is flagged interlaced; all of them, in that field order, when it is
    "tff" or "bff"."""
    frames = container.decode(stream)
    head: list[av.VideoFrame] = []
    if deinterlace is None:
        for frame in frames:
            head.append(frame)
            if len(head) >= INTERLACE_PROBE_FRAMES:
                break
        deinterlace = any(f.interlaced_frame for f in head)
    if not deinterlace:
        yield from head
        yield from frames
        return
    graph: av.filter.Graph | None = None
    for frame in _chain(head, frames):
        if graph is None:
            graph = _deinterlacer(stream, frame,
                                  deinterlace if isinstance(deinterlace, str) else None)
        graph.vpush(frame)
        yield from _pull(graph)
    if graph is not None:
        graph.vpush(None)
        yield from _pull(graph)


def upright_filters(rotation: float) -> str | None:
    """The filters that turn a picture whose display matrix rotates it by ``rotation`` degrees
    counterclockwise (``VideoFrame.rotation``: phones record landscape-right as 180, portrait as
    ±90) into the picture a player shows, as FFmpeg's autorotate does; None for upright."""
    turn = round(-rotation / 90) % 4       # clockwise quarter turns the player applies
    return {0: None, 1: "transpose=clock", 2: "hflip,vflip", 3: "transpose=cclock"}[turn]


def _upright(stream: av.video.stream.VideoStream, frames: Iterator[av.VideoFrame]
             ) -> Iterator[av.VideoFrame]:
    """Frames as displayed: a source with a display rotation turned upright (libavfilter)."""
    graph: av.filter.Graph | None = None
    for frame in frames:
        if graph is None:
            turning = upright_filters(frame.rotation)
            if turning is None:
                yield frame
                yield from frames
                return
            graph = _graph(stream, frame, turning)
        graph.vpush(frame)
        yield from _pull(graph)
    if graph is not None:
        graph.vpush(None)
        yield from _pull(graph)


def _graph(stream: av.video.stream.VideoStream, first: av.VideoFrame,
           filters: str) -> av.filter.Graph:
    """libavfilter: buffer → ``filters`` (a comma-separated chain) → buffersink."""
    graph = av.filter.Graph()
    tb = stream.time_base or Fraction(1, 90000)
    sar = stream.codec_context.sample_aspect_ratio or Fraction(1, 1)
    node = graph.add("buffer", f"video_size={first.width}x{first.height}:"
                     f"pix_fmt={first.format.name}:time_base={tb.numerator}/{tb.denominator}:"
                     f"pixel_aspect={sar.numerator}/{sar.denominator}")
    nodes = [node]
    for spec in filters.split(","):
        name, _, args = spec.partition("=")
        nodes.append(graph.add(name, args or None))
    nodes.append(graph.add("buffersink"))
    for a, b in itertools.pairwise(nodes):
        a.link_to(b)
    graph.configure()
    return graph


def _chain(head: list[av.VideoFrame], rest: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    yield from head
    yield from rest


def cfr_frames(path: Path, *, fps: int, start_s: float = 0.0, lecture: str | None = None,
               deinterlace: bool | str | None = None,
               ) -> Generator[av.VideoFrame | None, None, None]:
    """Progressive frames at exactly ``fps`` (hold the latest frame whose time ≤ tick), from
    ``start_s`` after the file's origin (D6: constant 25 fps from any source rate, variable
    included), upright (a source's display rotation applied, as players show it).

    ``deinterlace``: None detects interlacing from the first frames' flags; interlaced frames
    go through bwdif before anything else (D7); "tff"/"bff": every frame does, in that field
    order (an interlaced picture in frames flagged progressive). Yields None for ticks before
    the first frame; stops after the last frame's display time (its own duration where the file
    gives one).
    """
    with open_media(path, lecture=lecture) as container:
        if not container.streams.video:
            raise CorruptMediaError(f"{_where(path, lecture)}: has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tick = 0
        held: av.VideoFrame | None = None
        held_t = float("-inf")
        origin = origin_s(container)     # pictures placed as the sound is (AudioFeed)
        frame_dur = 1.0 / float(stream.average_rate or fps)
        if start_s > SEEK_FROM_S:
            seek_before(container, stream, start_s, origin=origin)
        try:
            for frame in _upright(stream, _progressive(container, stream, deinterlace)):
                if frame.pts is None or frame.time is None:
                    continue
                t = frame.time - origin
                while start_s + tick / fps < t - 1e-6:
                    yield held if held_t > float("-inf") else None
                    tick += 1
                held, held_t = frame, t
                if frame.duration and frame.time_base:
                    frame_dur = float(frame.duration * frame.time_base)
        except av.FFmpegError as exc:
            raise CorruptMediaError(
                f"{_where(path, lecture)}: decoding failed near {held_t:.2f} s ({exc}); "
                "the file is damaged: re-export or re-upload it") from exc
        if held is None:
            raise CorruptMediaError(f"{_where(path, lecture)}: no decodable video frames")
        while start_s + tick / fps < held_t + frame_dur - 1e-6:
            yield held
            tick += 1


class AudioFeed:
    """A source's audio as planar float32 stereo at ``rate``; ``read(n)`` returns exactly n
    samples (zeros before the start and after the end). ``channel``: this channel of the
    source on both sides (a microphone recorded on one input only). ``invert``: the second
    channel's polarity flipped (a microphone wired inverted on one input). ``offset``: the DC
    offset of each of the source's channels (after resampling to stereo), subtracted.
    ``clock``: seconds of the source per second read (a separate recorder whose clock runs
    against the cameras'): the source is resampled by that ratio (:class:`Respeed`).
    ``stream``: which of the file's audio tracks (:mod:`courseware.tracks`).
    ``declip``: the longest clipped run to restore (samples; 0: none), on the source's own
    samples, before the clock's resampling would smear them (``declipper`` then says what
    it did, in samples read from the first); ``declip_level``: the level (|x|) it was clipped
    at, when below full scale.
    ``ended_s``: once a read went past the end of the source's sound, the time (seconds read,
    from the first) where it ended; None while it lasts."""

    def __init__(self, path: Path | None, *, rate: int, start_s: float = 0.0, gain: float = 1.0,
                 lecture: str | None = None, channel: int | None = None,
                 invert: bool = False, offset: tuple[float, ...] = (),
                 clock: float = 1.0, stream: int = 0, declip: int = 0,
                 declip_level: float | None = None) -> None:
        self.path, self.rate, self.gain, self.lecture = path, rate, gain, lecture
        self.stream = stream
        self.channel = channel
        self.invert = invert
        self.offset = np.asarray(offset, np.float32)[:, None] if offset else None
        self._buf = np.zeros((2, 0), np.float32)
        #: where in the file reading starts (far in: a seek there) …
        self._seek_s = start_s if start_s > SEEK_FROM_S else 0.0
        #: … then leading samples dropped (> 0) or silence before them (< 0)
        self._skip = round((start_s - self._seek_s) * rate)
        self._it = self._blocks() if path is not None else iter(())
        self.declipper: Declipper | None = None
        own: Callable[[int], np.ndarray] = self._read
        if declip:       # the clip level where the DC offset left it
            worst = float(np.abs(self.offset).max()) if self.offset is not None else 0.0
            level = CLIP_LEVEL if declip_level is None else declip_level
            self.declipper = Declipper(self._read, level=level - worst, max_samples=declip)
            own = self.declipper.read
        self._own = own
        self._respeed = Respeed(own, clock) if clock != 1.0 else None
        self.clock = clock
        self._pos = 0                        # samples given by _read
        self._out = 0                        # … and by read
        self._ended: int | None = None       # … of which the source's sound ran out here

    @property
    def ended_s(self) -> float | None:
        return None if self._ended is None else self._ended / self.rate / self.clock

    def _blocks(self) -> Iterator[np.ndarray]:
        assert self.path is not None
        with open_media(self.path, lecture=self.lecture) as container:
            if not container.streams.audio:
                return
            stream = container.streams.audio[self.stream]
            # one microphone on both sides at its own level (FFmpeg's upmix would take it
            # 3 dB down, and its clipped runs with it, under the level they clipped at)
            mono = stream.codec_context.channels == 1
            resampler = av.AudioResampler(format="fltp", layout="mono" if mono else "stereo",
                                          rate=self.rate)
            try:
                for block in timed_audio(container, stream, resampler, self.rate,
                                         start_s=self._seek_s):
                    yield self._fix(np.repeat(block, 2, axis=0) if mono else block)
            except av.FFmpegError as exc:
                raise CorruptMediaError(
                    f"{_where(self.path, self.lecture)}: audio decoding failed ({exc}); "
                    "re-export or re-upload the file") from exc

    def _fix(self, block: np.ndarray) -> np.ndarray:
        """The source's stereo block without its DC offset, the chosen channel on both sides,
        the second channel's polarity flipped when asked."""
        if self.offset is not None:
            block = block - self.offset
        if self.channel is not None:
            block = block[[self.channel, self.channel]]
        return block * np.array([[1.0], [-1.0]], np.float32) if self.invert else block

    def read(self, n: int) -> np.ndarray:
        out = self._respeed.read(n) if self._respeed is not None else self._own(n)
        self._out += n
        return out * self.gain if self.gain != 1.0 else out

    def read_sound(self, n: int) -> np.ndarray:
        """As ``read``, without the zeros after the source's end: shorter there, then
        empty."""
        start = self._out
        out = self.read(n)
        ended = self.ended_s
        return out if ended is None else out[:, :max(0, round(ended * self.rate) - start)]

    def _read(self, n: int) -> np.ndarray:
        lead = min(n, -self._skip) if self._skip < 0 else 0   # silence before the start
        self._skip += lead
        out, given = self._take(n - lead)
        if given < n - lead and self._ended is None:
            self._ended = self._pos + lead + given
        self._pos += n
        return np.concatenate([np.zeros((2, lead), np.float32), out], axis=1) if lead else out

    def _take(self, n: int) -> tuple[np.ndarray, int]:
        """The next n samples of the source (zeros after its end), and how many it gave."""
        blocks = [self._buf]
        held = self._buf.shape[1]
        while held < n:
            block = next(self._it, None)
            if block is None:
                break
            if self._skip > 0:         # dropped as it comes: memory stays one read's worth
                drop = min(self._skip, block.shape[1])
                block, self._skip = block[:, drop:], self._skip - drop
            blocks.append(block.astype(np.float32, copy=False))
            held += block.shape[1]
        buf = np.concatenate(blocks, axis=1) if len(blocks) > 1 else self._buf
        out, self._buf = buf[:, :n], buf[:, n:]
        given = out.shape[1]
        if given < n:
            out = np.concatenate([out, np.zeros((2, n - given), np.float32)], axis=1)
        return out, given


class Respeed:
    """``read(n)``: the next n samples of ``y[k] = x(ratio · k)``, x read from ``source``
    (a reader of (2, n) blocks): a recorder's clock drift (tens of ppm) taken out without a
    pitch step or a click. Windowed-sinc interpolation: 32 taps (Kaiser, β = 8), the
    fractional position rounded to 1/1024 of a sample."""

    TAPS = 32
    PHASES = 1024

    def __init__(self, source: Callable[[int], np.ndarray], ratio: float) -> None:
        self._source = source
        self.ratio = float(ratio)
        half = self.TAPS // 2
        k = np.arange(self.TAPS) - half + 1                           # taps −15 … 16
        u = k - np.arange(self.PHASES + 1)[:, None] / self.PHASES     # tap − fraction
        kaiser = np.i0(8.0 * np.sqrt(np.clip(1.0 - (u / half) ** 2, 0.0, None))) / np.i0(8.0)
        self._table = (np.sinc(u) * kaiser).astype(np.float32)        # (phases + 1, taps)
        self._buf = np.zeros((2, half), np.float32)   # input from index ``_base`` on
        self._base = -half                            # (silence before the start)
        self._next = 0                                # next output index

    def read(self, n: int) -> np.ndarray:
        half = self.TAPS // 2
        pos = self.ratio * (self._next + np.arange(n, dtype=np.float64))
        whole = np.floor(pos).astype(np.int64)
        phase = np.round((pos - whole) * self.PHASES).astype(np.int64)
        need = int(whole[-1]) + half + 1 - self._base                # input samples needed
        if need > self._buf.shape[1]:
            self._buf = np.concatenate([self._buf, self._source(need - self._buf.shape[1])],
                                       axis=1)
        idx = (whole - half + 1 - self._base)[:, None] + np.arange(self.TAPS)   # (n, taps)
        out = np.einsum("cnt,nt->cn", self._buf[:, idx], self._table[phase])
        self._next += n
        keep = int(np.floor(self.ratio * self._next)) - half + 1 - self._base
        if keep > 0:
            self._buf, self._base = self._buf[:, keep:], self._base + keep
        return out.astype(np.float32)


def rgb_to_frame(rgb: np.ndarray) -> av.VideoFrame:
    """An RGB image as a BT.709 limited-range yuv420p frame."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(format="yuv420p", dst_colorspace="itu709")


class DeliveryWriter:
    """Writes a delivery MP4 per the profile: H.264 CBR (x264 nal-hrd=cbr with filler),
    ``fps`` constant, progressive, BT.709; AAC-LC stereo CBR; moov first (faststart).

    Video and audio are interleaved frame by frame: ``write(frame, audio)`` takes one video
    frame and the audio samples that play during it.
    """

    def __init__(self, path: Path, profile: Profile, *, subtitles: bool = False) -> None:
        enc, dl = profile.encode, profile.delivery
        self.path = path
        self.fps = dl.fps
        self.rate = dl.audio_rate
        kbps = enc.video_bitrate_kbps
        self.container = av.open(str(path), "w", format="mp4",
                                 options={"movflags": "+faststart"})
        v = self.container.add_stream("libx264", rate=self.fps)
        v.width, v.height, v.pix_fmt = enc.width, enc.height, "yuv420p"
        v.bit_rate = int(kbps * 1000)
        v.codec_context.options = {
            # D3: constant rate with filler data, so static slides do not fall below the minimum
            "x264-params": ":".join([
                "nal-hrd=cbr", "force-cfr=1",
                f"keyint={round(enc.gop_s * self.fps)}", f"min-keyint={self.fps}",
                "colorprim=bt709", "transfer=bt709", "colormatrix=bt709",
            ]),
            "maxrate": f"{int(kbps)}k", "minrate": f"{int(kbps)}k",
            "bufsize": f"{int(kbps * enc.vbv_buffer_s)}k",
            "preset": enc.preset, "profile": "high",
        }
        a = self.container.add_stream("aac", rate=self.rate, layout="stereo")
        a.bit_rate = int(dl.audio_bitrate_kbps * 1000)
        self.video, self.audio = v, a
        self.subtitles = None
        if subtitles:  # D8: a timed-text track (mov_text / tx3g)
            self.subtitles = self.container.add_stream("mov_text")
            self.subtitles.codec_context.subtitle_header = ASS_HEADER
            self.subtitles.codec_context.time_base = Fraction(1, 1000)
        self.padder = CbrPadder(bitrate=a.bit_rate, sample_rate=self.rate, frame_samples=AAC_FRAME)
        self.frames = 0
        self.samples = 0
        self._pending = np.zeros((2, 0), np.float32)

    def __enter__(self) -> DeliveryWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.container.close()

    @property
    def samples_per_frame(self) -> int:
        return self.rate // self.fps

    @property
    def time_s(self) -> float:
        """Film time of the next video frame."""
        return self.frames / self.fps

    def add_cues(self, cues: list[Cue]) -> None:
        """Timed-text samples in film time (≥ now); they are few, the muxer interleaves them."""
        if self.subtitles is None:
            raise ValueError("this writer was opened without a subtitle track")
        for cue in cues:
            packet = av.Packet(mov_text_sample(cue.text))
            packet.pts = packet.dts = round(cue.start_s * 1000)
            packet.duration = round((cue.end_s - cue.start_s) * 1000)
            packet.time_base, packet.stream = Fraction(1, 1000), self.subtitles
            self.container.mux(packet)

    def write(self, frame: av.VideoFrame, audio: np.ndarray) -> None:
        frame.pts = self.frames
        frame.time_base = Fraction(1, self.fps)
        self.frames += 1
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        self._pending = np.concatenate([self._pending, audio.astype(np.float32)], axis=1)
        while self._pending.shape[1] >= AAC_FRAME:
            self._encode_audio(self._pending[:, :AAC_FRAME])
            self._pending = self._pending[:, AAC_FRAME:]

    def _encode_audio(self, block: np.ndarray | None) -> None:
        frame = None
        if block is not None:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp",
                                               layout="stereo")
            frame.sample_rate = self.rate
            frame.pts = self.samples
            frame.time_base = Fraction(1, self.rate)
            self.samples += block.shape[1]
            self.audio.codec_context.bit_rate = self.padder.encoder_rate()
        for packet in self.audio.encode(frame):
            padded = av.Packet(self.padder.pad(bytes(packet)))
            padded.pts, padded.dts = packet.pts, packet.dts
            padded.duration, padded.time_base = packet.duration, packet.time_base
            padded.stream = self.audio
            self.container.mux(padded)

    def close(self) -> None:
        if self._pending.shape[1]:
            tail = np.zeros((2, AAC_FRAME), np.float32)
            tail[:, : self._pending.shape[1]] = self._pending
            self._encode_audio(tail)
            self._pending = np.zeros((2, 0), np.float32)
        for packet in self.video.encode(None):
            self.container.mux(packet)
        self._encode_audio(None)
        self.container.close()


class BackgroundWriter:
    """A :class:`DeliveryWriter` fed through a bounded queue by a worker thread, so composing
    the next frame (Python, NumPy, swscale) overlaps encoding this one (x264/AAC release
    the GIL). Same calls, same order; memory stays flat (``depth`` frames in flight). An
    error in the worker is raised at the next call."""

    def __init__(self, writer: DeliveryWriter, *, depth: int = 8) -> None:
        self.writer = writer
        self.fps = writer.fps
        self.frames = 0
        self._worker = OrderedWorker("encoder", depth=depth)

    @property
    def samples_per_frame(self) -> int:
        return self.writer.samples_per_frame

    @property
    def time_s(self) -> float:
        """Film time of the next video frame (as queued)."""
        return self.frames / self.fps

    def write(self, frame: av.VideoFrame, audio: np.ndarray) -> None:
        self._worker.submit(self.writer.write, frame, audio)
        self.frames += 1

    def add_cues(self, cues: list[Cue]) -> None:
        self._worker.submit(self.writer.add_cues, cues)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._worker.__exit__(kind, exc, tb)
