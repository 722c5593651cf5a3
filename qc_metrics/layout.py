"""``video.slides_layout`` (B3): the slides whole and large enough in the rendered picture.

B3 asks that the multimedia shown in class be complete and legible in the film; the
specification's reading: nothing drawn over the slides, and in picture-in-picture the
slides keep at least ``profile.video.slides_share_min`` of the frame. This is judged from
the layout as it was shown (the render's :class:`CameraSpan` list: per stretch of the film,
the rectangle each source was painted in, in painting order), not from the pixels: a
picture cannot tell a slide from a teacher standing before a whiteboard.

- A rectangle painted after the slides' that overlaps it covers part of them: a failure
  (B3: complete), with the stretches and the share covered.
- Where another source is shown beside the slides, the slides' share of the frame below the
  minimum is a warning: small text may no longer read (side by side, 16:9 slides have a
  quarter of the frame); a person judges the smallest text.
- Slides alone (letterboxed or not) and stretches without slides are not judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from courseware.report import Check, Event, Status
from encoder_profiles import Profile
from qc_metrics.colour import CameraSpan
from qc_metrics.frames import timecode

SLIDES = "slides"


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """Pixels two (x, y, w, h) rectangles share."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def slides_layout(spans: Sequence[CameraSpan], *, size: tuple[int, int] | None,
                  profile: Profile, end_s: float = math.inf) -> Check:
    """``video.slides_layout`` (B3) of a film whose layout is known (``spans``) and whose
    frame is ``size`` (width, height); a skip without either, or without slides. ``end_s``:
    where the film's pictures end (a span to the end of the file may end at infinity)."""
    minimum = profile.video.slides_share_min

    def skip(why: str) -> Check:
        return Check("video.slides_layout", "B3", "skip", None, minimum, "share", why)

    if not spans:
        return skip("the layout is not known (a file checked on its own): whether the slides "
                    "are whole and large enough is judged by eye")
    if size is None:
        return skip("no picture")
    shown = [s for s in spans if SLIDES in s.regions]
    if not shown:
        return skip("the layout shows no slides")
    frame = size[0] * size[1]
    covered: list[Event] = []
    small: list[Event] = []
    shares: list[float] = []
    worst_cover = 0.0
    for span in shown:
        names = list(span.regions)
        rect = span.regions[SLIDES]
        area = rect[2] * rect[3]
        over = sum(_overlap(rect, span.regions[n]) for n in names[names.index(SLIDES) + 1:])
        end = min(span.end_s, end_s)
        when = (f"{timecode(span.start_s)}–{timecode(end)}" if math.isfinite(end)
                else f"from {timecode(span.start_s)}")
        if over:
            worst_cover = max(worst_cover, over / area)
            covered.append(Event(span.start_s, end, (
                f"{when}: {100 * over / area:.0f} % of the slides covered by "
                + ", ".join(n for n in names[names.index(SLIDES) + 1:]
                            if _overlap(rect, span.regions[n])))))
        if len(names) < 2:
            continue
        share = area / frame
        shares.append(share)
        if share < minimum:
            small.append(Event(span.start_s, end, (
                f"{when}: slides {rect[2]}×{rect[3]} px, {100 * share:.0f} % of the frame, "
                f"beside {', '.join(n for n in names if n != SLIDES)}")))
    least = min(shares) if shares else None
    status: Status = "fail" if covered else "warn" if small else "pass"
    if covered:
        message = (f"something is painted over the slides in {len(covered)} stretch(es) (up "
                   f"to {100 * worst_cover:.0f} % of them): B3 wants them complete; use a "
                   "layout whose regions do not overlap the slides")
    elif small:
        message = (f"the slides have {100 * (least or 0):.0f} % of the frame beside another "
                   f"picture in {len(small)} stretch(es), under the {100 * minimum:.0f} % B3 "
                   "is read to want: check that their smallest text still reads, or use "
                   "picture-in-picture (`pip`)")
    elif least is not None:
        message = (f"the slides uncovered, on at least {100 * least:.0f} % of the frame "
                   f"beside another picture (≥ {100 * minimum:.0f} %, B3)")
    else:
        message = "the slides uncovered, shown alone (B3)"
    return Check("video.slides_layout", "B3", status,
                 round(least, 4) if least is not None else None, minimum, "share", message,
                 tuple(sorted([*covered, *small], key=lambda e: e.start_s)))
