"""The course preview (A6): ≤ preview_max_s, compliant, excerpts from inside the content."""

from __future__ import annotations

from pathlib import Path

import pytest

from courseware.course import load_course
from courseware.sample import make_sample
from encoder_profiles import load_profile
from tasks.preview import _Span, plan_excerpts, render_preview
from tasks.probe import probe_lecture
from tasks.render import plan_audio, render_lecture
from tasks.verify import verify_file

PROFILE = load_profile()


@pytest.mark.parametrize("lectures", [1, 2, 8, 16, 56])
def test_plan_fits_a6_for_every_course_size(lectures: int) -> None:
    spans = [_Span(n, Path(f"{n}.mp4"), 4.0, 3600.0) for n in range(1, lectures + 1)]
    excerpts = plan_excerpts(spans, PROFILE)
    enc = PROFILE.encode
    total = enc.title_card_s + sum(enc.preview_card_s + e.length_s for e in excerpts)
    assert total <= PROFILE.structure.preview_max_s - 1.0 + 1e-9
    assert excerpts[0].number == 1 and excerpts[-1].number == lectures  # first and last
    assert all(e.length_s >= enc.preview_min_excerpt_s for e in excerpts)
    assert all(e.start_s >= 4.0 and e.start_s + e.length_s <= 3600.0 for e in excerpts)


def test_preview_of_a_rendered_course(tmp_path: Path) -> None:
    course = load_course(make_sample(tmp_path / "raw", lectures=2, seconds=6.0))
    rendered = {}
    for lecture in course.lectures:
        inputs = probe_lecture(course, lecture)
        result = render_lecture(course, inputs, audio=plan_audio(inputs, PROFILE),
                                profile=PROFILE, out_dir=tmp_path / "lectures")
        rendered[lecture.number] = result.path
    preview = render_preview(course, rendered, profile=PROFILE, out_dir=tmp_path / "preview")
    assert preview.duration_s <= PROFILE.structure.preview_max_s
    assert [e.number for e in preview.excerpts] == [1, 2]
    enc = PROFILE.encode
    expected = enc.title_card_s + sum(enc.preview_card_s + e.length_s for e in preview.excerpts)
    assert preview.duration_s == pytest.approx(expected, abs=0.1)
    # lecture 1 opens with the intro and its title card: the excerpt starts after both
    assert preview.excerpts[0].start_s >= enc.title_card_s + 3.0
    assert verify_file(preview.path, profile=PROFILE).status == "pass"
