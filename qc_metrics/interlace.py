"""Interlacing seen in the picture (D7: progressive scan), after FFmpeg's ``idet``.

``format.scan`` reads what a file *says* (field-coded frames, the field-order flag). A file can
say "progressive" and still show combing: 50i camera footage captured or transcoded without
deinterlacing, each frame two fields 20 ms apart. Only the pixels tell.

Per frame, as FFmpeg ``idet`` (single-frame detection) does, with ``cur`` the frame and
``prev``/``next`` its neighbours, for every row y (2 ≤ y < H−2) of the luma:

* ``delta``  += Σ|cur[y−1] + cur[y+1] − 2·cur[y]| (how well the frame's own other field
  predicts the row),
* ``alpha[y & 1]``  += Σ|cur[y−1] + cur[y+1] − 2·prev[y]|,
* ``alpha[~y & 1]`` += Σ|cur[y−1] + cur[y+1] − 2·next[y]| (how well a neighbour's field fits
  between the frame's lines, for each field order).

idet calls the frame top field first when alpha[0] > ``intl_thres``·alpha[1] (1.04), bottom
field first for the converse, progressive when alpha[1] > ``prog_thres``·delta (1.5), else
undetermined (a still picture shows no field order). On the same frames this module gives the
same labels (tested against FFmpeg), with guards idet lacks. In an interlaced frame with motion
the neighbour's field of the right order fits the frame's lines about as well as its own field
does, and the wrong order clearly worse: the smaller alpha is within ``prog_thres``·delta and
at least ``SEPARATION`` times closer to delta than to the larger alpha, and the larger alpha
exceeds delta by ``MOTION``. Otherwise both orders fit alike: progressive with motion, or a
still picture whose sums differ by noise. Without the guards a progressive camera tilt coded by
x264 reads as one field order in idet (tested), and so do a few still frames of any lecture.

Cost: one frame in ``every`` is judged (with its two neighbours), on about ``columns`` evenly
spaced columns (every 8th of 1080p; whole columns: the field structure is vertical), so the
cost per frame does not grow with the picture's width. A lecture is judged by its frames with
motion; still frames are undetermined, and a still picture cannot show combing anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from courseware.report import Check, Event, Status
from encoder_profiles import Profile
from qc_metrics.frames import VideoDetector, YUVFrame, as_batch, timecode
from qc_metrics.xp import array_namespace, to_host

__all__ = ["FieldType", "InterlaceDetector", "classify", "field_sums"]

FieldType = Literal["tff", "bff", "progressive", "undetermined"]

#: idet ``intl_thres``: one field order fits this much better than the other
INTERLACE_THRESHOLD = 1.04
#: idet ``prog_thres``: a neighbour's fields fit this much worse than the frame's own
PROGRESSIVE_THRESHOLD = 1.5
#: the better field order fits this many times closer to the frame's own field than the worse
SEPARATION = 2.0
#: the worse field order misfits by this much more than the frame's own field: motion, not
#: noise (in a still frame all three sums are the same noise, a few per cent apart by chance)
MOTION = 1.1


def field_sums(prev: Any, cur: Any, nxt: Any) -> Any:
    """idet's (alpha[0], alpha[1], delta) of each frame of ``cur`` (luma, (N, H, W) uint8)
    between ``prev`` and ``nxt`` (same shape); a host (N, 3) int64 array."""
    xp = array_namespace(cur)
    h = cur.shape[-2]
    c = cur.astype(xp.int16)
    around = c[:, 1:h - 3] + c[:, 3:h - 1]          # rows y−1 + y+1, y = 2 … H−3

    def fit(plane: Any) -> Any:                      # Σ|… − 2·plane[y]| for even, odd y
        r = plane[:, 2:h - 2].astype(xp.int16)
        r *= 2
        xp.subtract(around, r, out=r)
        rows = xp.abs(r, out=r).sum(axis=2, dtype=xp.int32)    # ≤ 510 per pixel
        return rows[:, 0::2].sum(axis=1, dtype=xp.int64), rows[:, 1::2].sum(axis=1,
                                                                             dtype=xp.int64)

    p_even, p_odd = fit(prev)
    n_even, n_odd = fit(nxt)
    d_even, d_odd = fit(cur)
    # row index 0 is y = 2 (even): prev's line fills alpha[y & 1], next's alpha[~y & 1]
    return to_host(xp.stack([p_even + n_odd, p_odd + n_even, d_even + d_odd], axis=1))


def classify(alpha0: float, alpha1: float, delta: float) -> FieldType:
    """One frame's label from its sums (see the module doc: idet's rule plus the guard)."""
    lo, hi = min(alpha0, alpha1), max(alpha0, alpha1)
    if (lo <= PROGRESSIVE_THRESHOLD * delta and hi - lo >= SEPARATION * (lo - delta)
            and hi > MOTION * delta):
        if alpha0 > INTERLACE_THRESHOLD * alpha1:
            return "tff"
        if alpha1 > INTERLACE_THRESHOLD * alpha0:
            return "bff"
    if alpha1 > PROGRESSIVE_THRESHOLD * delta:
        return "progressive"
    return "undetermined"


class InterlaceDetector(VideoDetector):
    """``video.interlacing`` (D7): combing in the picture, whatever the file's flags say.

    Fails when at least half of the judged frames (frames with motion) are interlaced, and at
    least ``min_frames`` of them; warns on a stretch of interlaced frames in a progressive
    lecture (an inserted interlaced clip); events are the interlaced stretches."""

    def __init__(self, *, fps: float, profile: Profile, every: int = 8, columns: int = 240,
                 min_frames: int = 3, gap_s: float = 1.0) -> None:
        self.fps = float(fps)
        self.profile = profile
        self.every = max(2, every)
        self.columns = columns          #: about this many columns are looked at, evenly spaced
        self.step = 0                   #: … every step-th one (set from the first frame's width)
        self.min_frames = min_frames
        self.gap_s = gap_s              #: interlaced frames closer than this: one stretch
        self.labels: list[tuple[float, FieldType]] = []   #: (t, label) of the judged frames
        self._tail: Any = None          # column samples of the last two frames
        self._tail_t: list[float] = []
        self._seen = 0                  # frames consumed so far
        self._next = self.every // 2    # index of the next frame to judge

    def process_batch(self, frames: YUVFrame, ts: Sequence[float]) -> None:
        xp = array_namespace(frames.y)
        luma = as_batch(frames).y
        self.step = self.step or max(1, luma.shape[-1] // self.columns)
        tail = self._tail if self._tail is not None else luma[:0, :, ::self.step]
        times = self._tail_t + [float(t) for t in ts]
        base = self._seen - len(tail)                  # frame index of times[0]
        self._seen += len(ts)

        def columns(i: int) -> Any:                    # frame i of tail + batch, sampled
            return tail[i] if i < len(tail) else luma[i - len(tail), :, ::self.step]

        centres = range(max(self._next, base + 1), self._seen - 1, self.every)
        if centres:
            at = [g - base for g in centres]
            sums = field_sums(*(xp.stack([columns(i + k) for i in at]) for k in (-1, 0, 1)))
            self.labels += [(times[i], classify(*map(float, row)))
                            for i, row in zip(at, sums, strict=True)]
            self._next = centres[-1] + self.every
        self._tail = xp.stack([columns(i) for i in range(len(times) - 2, len(times)) if i >= 0])
        self._tail_t = times[-2:]

    def cut(self) -> None:
        """The next frame does not follow the last one (a seek): no triplet spans the cut."""
        self._tail, self._tail_t = None, []

    def field_order(self) -> Literal["tff", "bff"] | None:
        """The field order when the picture is interlaced (at least half of the judged frames,
        and ``min_frames`` of them: the verdict of :meth:`finish`), else None."""
        n = self.counts()
        fields = n["tff"] + n["bff"]
        if fields < self.min_frames or fields < n["progressive"]:
            return None
        return "tff" if n["tff"] >= n["bff"] else "bff"

    def picture(self) -> Literal["interlaced", "progressive", "unknown"]:
        """What the judged frames show: interlaced (see :meth:`field_order`), progressive (at
        least ``min_frames`` judged progressive and under one in ten interlaced), or unknown
        (too little motion to tell)."""
        if self.field_order() is not None:
            return "interlaced"
        n = self.counts()
        fields = n["tff"] + n["bff"]
        if n["progressive"] >= self.min_frames and fields < 0.1 * (fields + n["progressive"]):
            return "progressive"
        return "unknown"

    def counts(self) -> dict[FieldType, int]:
        out: dict[FieldType, int] = {"tff": 0, "bff": 0, "progressive": 0, "undetermined": 0}
        for _, label in self.labels:
            out[label] += 1
        return out

    def stretches(self) -> list[tuple[float, float, int]]:
        """(start, end, frames) of the interlaced stretches: judged interlaced frames with
        no progressive frame between them and less than ``gap_s`` apart."""
        out: list[tuple[float, float, int]] = []
        frame = self.every / self.fps
        open_: list[float] | None = None               # [start, end, frames] being grown
        for t, label in self.labels:
            if label in ("tff", "bff"):
                if open_ is not None and t - open_[1] < self.gap_s:
                    open_[1], open_[2] = t + frame, open_[2] + 1
                    continue
                if open_ is not None:
                    out.append((open_[0], open_[1], int(open_[2])))
                open_ = [t, t + frame, 1]
            elif label == "progressive" and open_ is not None:
                out.append((open_[0], open_[1], int(open_[2])))
                open_ = None
        if open_ is not None:
            out.append((open_[0], open_[1], int(open_[2])))
        return [s for s in out if s[2] >= self.min_frames]

    def finish(self) -> list[Check]:
        n = self.counts()
        fields = n["tff"] + n["bff"]
        judged = fields + n["progressive"]
        share = fields / judged if judged else 0.0
        wanted = self.profile.delivery.progressive
        order = "top field first" if n["tff"] >= n["bff"] else "bottom field first"
        spans = self.stretches()
        events = tuple(Event(a, b, f"{timecode(a)}–{timecode(b)}: interlaced picture "
                                   f"(combing, {order}) in the {k} frames looked at")
                       for a, b, k in spans)
        looked = f"{len(self.labels)} frames looked at, one in {self.every}"
        status: Status
        if self.field_order() is not None:
            status = "fail" if wanted else "pass"
            message = (f"the picture is interlaced: combing ({order}) in {fields} of {judged} "
                       f"frames with motion ({looked})"
                       + ("; the specification wants progressive scan (D7): deinterlace "
                          "(FFmpeg bwdif or yadif) and re-encode (the pipeline does so itself "
                          "for a raw source)" if wanted else ""))
        elif spans:
            status = "warn" if wanted else "pass"
            message = (f"mostly progressive, but {len(spans)} stretch(es) of interlaced "
                       f"picture (combing, {order}; {fields} of {judged} frames with motion); "
                       "an inserted interlaced clip? deinterlace it (D7)")
        else:
            status = "pass"
            message = (f"progressive picture: no combing in the {judged} frame(s) with "
                       f"motion ({looked})" if judged else
                       f"no motion to judge interlacing by ({looked}); a still picture shows "
                       "no combing")
        return [Check("video.interlacing", "D7", status, round(share, 3), 0.5, "share",
                      message, events)]
