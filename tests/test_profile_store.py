"""The profile as data, validated; the local store publishes atomically and safely."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from courseware.errors import ProfileError, StoreError
from courseware.store import LocalStore, safe_name
from encoder_profiles import HERE, load_layouts, load_profile


def test_profile_holds_the_delivery_numbers() -> None:
    p = load_profile("shaanxi-2024")
    assert (p.delivery.video_bitrate_kbps.min, p.delivery.video_bitrate_kbps.max) == (800, 1024)
    assert (p.delivery.fps, p.delivery.audio_rate, p.delivery.audio_channels) == (25, 48000, 2)
    assert p.audio.peak_dbfs == (-8.0, -2.0) and p.video.snr_min_db == 55.0
    assert p.structure.title_card_max_s == 5.0 and p.structure.preview_max_s == 180.0


def test_profile_that_contradicts_the_regulation_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((HERE / "shaanxi-2024.yaml").read_text("utf-8"))
    data["encode"]["video_bitrate_kbps"] = 1500
    data["encode"]["title_card_s"] = 6
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(ProfileError, match=r"outside D3.*longer than A4"):
        load_profile(path)
    data = yaml.safe_load((HERE / "shaanxi-2024.yaml").read_text("utf-8"))
    data["encode"]["vbv_buffer_s"] = 1.0
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(ProfileError, match=r"vbv_buffer_s 1.0 lets 2.0-s windows leave D3"):
        load_profile(path)
    with pytest.raises(ProfileError, match="unknown profile 'nope'"):
        load_profile("nope")


def test_pip_layout_keeps_slides_at_least_half_the_frame() -> None:
    for name, layout in load_layouts().items():
        slides = [r for r in layout.regions if r.source == "slides"]
        if slides and "teacher" in layout.sources and name == "pip":
            assert slides[0].w * slides[0].h >= 0.5  # B3


@pytest.mark.parametrize("name", ["../../etc", "a/b", "课程：碳中和", "x\x00y\x1f", "..", " . "])
def test_safe_names_cannot_escape(name: str) -> None:
    safe = safe_name(name)
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert all(ord(c) >= 32 for c in safe) and safe


def test_safe_names_stay_distinct_and_readable() -> None:
    assert safe_name("课程：碳中和") == "课程：碳中和"  # full-width colon is fine on every FS
    names = ["a/b", "a:b", "a\x00b", "a_b", "..", " . ", "../../etc", "etc"]
    assert len({safe_name(n) for n in names}) == len(names)
    assert safe_name("a/b").startswith("a_b~") and safe_name("a_b") == "a_b"


def test_local_store_is_atomic_and_refuses_escapes(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "out")
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    url = store.put_file(src, "课程/第01讲.mp4")
    assert url.startswith("file://") and store.exists("课程/第01讲.mp4")
    assert not list((tmp_path / "out").rglob("*.part"))
    with pytest.raises(StoreError, match="leaves the store"):
        store.put_file(src, "../escape.bin")
