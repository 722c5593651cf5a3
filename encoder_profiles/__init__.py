"""Delivery profiles and layouts as data: YAML files beside this module, validated on load.

A profile is named by its file stem (``shaanxi-2024``); a path to another YAML file works too.
Every number of the regulation is in the profile; code reads it from the typed object.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from courseware.errors import ProfileError

HERE = Path(__file__).parent
DEFAULT_PROFILE = "shaanxi-2024"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Model):
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    def __contains__(self, value: float) -> bool:
        return self.min <= value <= self.max


class Structure(_Model):
    public_lectures: int = Field(gt=0)
    public_hours: int = Field(gt=0)
    professional_hours: tuple[int, ...]
    lecture_minutes: float = Field(gt=0)
    lecture_tolerance: float = Field(ge=0, lt=1)
    title_card_max_s: float = Field(gt=0)
    preview_max_s: float = Field(gt=0)


class Delivery(_Model):
    container: Literal["mp4"]
    video_codec: Literal["h264"]
    #: the pictures as browsers and phones decode H.264: 8-bit 4:2:0 (our reading of D2)
    pixel_format: Literal["yuv420p"] = "yuv420p"
    video_bitrate_kbps: Range
    bitrate_window_s: float = Field(gt=0)
    min_width: int = Field(gt=0)
    min_height: int = Field(gt=0)
    aspect: tuple[int, int]
    fps: int = Field(gt=0)
    progressive: bool
    audio_codec: Literal["aac"]
    audio_profile: str
    audio_rate: int = Field(gt=0)
    audio_bitrate_kbps: float = Field(gt=0)
    audio_bitrate_tolerance: float = Field(ge=0, lt=1)
    audio_channels: int = Field(gt=0)
    faststart: bool


class VideoLimits(_Model):
    snr_min_db: float
    luma_range: tuple[int, int]
    chroma_range: tuple[int, int]
    out_of_range_max: float = Field(ge=0, le=1)
    cast_max: float = Field(ge=0)
    camera_delta_e_max: float = Field(ge=0)
    #: B3: the share of the frame the slides keep beside another picture
    slides_share_min: float = Field(default=0.5, ge=0, le=1)
    #: B3: the height in the film's pixels the slides' body text must keep to read
    slides_text_min_px: float = Field(default=12.0, gt=0)


class AudioLimits(_Model):
    peak_dbfs: tuple[float, float]
    snr_min_db: float
    av_sync_ms: tuple[float, float]
    mains_hz: float = Field(gt=0)
    music_under_speech_db: float = Field(ge=0)


class Encode(_Model):
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    video_bitrate_kbps: float = Field(gt=0)
    vbv_buffer_s: float = Field(gt=0)
    gop_s: float = Field(gt=0)
    preset: str
    loudness_target_lufs: float = Field(lt=0)
    limiter_ceiling_dbfs: float = Field(lt=0)
    min_peak_dbfs: float = Field(lt=0)
    hum_prominence_db: float = Field(gt=0)
    title_card_s: float = Field(gt=0)
    credits_s: float = Field(gt=0)
    preview_excerpt_s: float = Field(gt=0)
    preview_min_excerpt_s: float = Field(gt=0)
    preview_card_s: float = Field(gt=0)
    layout: str
    # video mastering (analysis pass + per-source correction); defaults keep older profiles valid
    analyse_every_s: float = Field(default=1.0, gt=0)
    analyse_max_frames: int = Field(default=120, ge=1)
    camera_match_max_gain: float = Field(default=1.25, ge=1)
    denoise: Literal["auto", "off"] = "auto"
    denoise_weight: float = Field(default=0.25, gt=0, le=1)
    denoise_threshold_sigmas: float = Field(default=3.0, gt=0)
    #: a camera's pictures black this long or longer (lost signal, lens cap) are left out of
    #: the layout while another camera has pictures; 0: never
    hide_black_s: float = Field(default=2.0, ge=0)
    # audio noise reduction (S2); defaults keep older profiles valid
    audio_denoise: Literal["auto", "off"] = "auto"
    audio_denoise_margin_db: float = Field(default=6.0, ge=0)
    audio_denoise_max_db: float = Field(default=20.0, gt=0, le=40)

    @model_validator(mode="after")
    def _even(self) -> Encode:
        if self.width % 2 or self.height % 2:
            raise ValueError(f"output size {self.width}x{self.height} must be even (4:2:0)")
        return self


QuestionKind = Literal["single", "multiple", "true_false"]


class Bank(_Model):
    """Question bank and exam paper sizes (规范 二.(四))."""

    min_single: int = Field(ge=0)        # Q3
    min_multiple: int = Field(ge=0)      # Q3
    min_true_false: int = Field(ge=0)    # Q3
    paper_single: int = Field(ge=0)      # Q2
    paper_multiple: int = Field(ge=0)    # Q2
    paper_true_false: int = Field(ge=0)  # Q2

    @property
    def minimums(self) -> dict[QuestionKind, int]:
        """Q3: the least number of questions of each kind the bank must hold."""
        return {"single": self.min_single, "multiple": self.min_multiple,
                "true_false": self.min_true_false}

    @property
    def paper(self) -> dict[QuestionKind, int]:
        """Q2: how many questions of each kind an exam paper draws."""
        return {"single": self.paper_single, "multiple": self.paper_multiple,
                "true_false": self.paper_true_false}

    @model_validator(mode="after")
    def _bank_covers_paper(self) -> Bank:
        short = [f"min_{kind} {self.minimums[kind]} < paper_{kind} {n}"
                 for kind, n in self.paper.items() if self.minimums[kind] < n]
        if short:
            raise ValueError("a bank minimum is below the paper size: " + "; ".join(short))
        return self


class Profile(_Model):
    name: str
    title: str
    structure: Structure
    delivery: Delivery
    video: VideoLimits
    audio: AudioLimits
    encode: Encode
    bank: Bank

    @model_validator(mode="after")
    def _encode_meets_delivery(self) -> Profile:
        d, e = self.delivery, self.encode
        problems = []
        if e.video_bitrate_kbps not in d.video_bitrate_kbps:
            problems.append(f"encode.video_bitrate_kbps {e.video_bitrate_kbps} is outside D3")
        else:
            # a CBR HRD stream carries R·T ± B bits in any window T: D3 holds in every
            # bitrate_window_s window when B ≤ T · min(R − min, max − R)
            margin = min(e.video_bitrate_kbps - d.video_bitrate_kbps.min,
                         d.video_bitrate_kbps.max - e.video_bitrate_kbps)
            if e.video_bitrate_kbps * e.vbv_buffer_s > d.bitrate_window_s * margin + 1e-9:
                problems.append(
                    f"encode.vbv_buffer_s {e.vbv_buffer_s} lets {d.bitrate_window_s}-s windows "
                    f"leave D3 (buffer must be ≤ {d.bitrate_window_s * margin:.0f} kbit)")
        if e.width < d.min_width or e.height < d.min_height:
            problems.append(f"encode size {e.width}x{e.height} is below D4")
        if e.width * d.aspect[1] != e.height * d.aspect[0]:
            problems.append(f"encode size {e.width}x{e.height} is not {d.aspect[0]}:{d.aspect[1]}")
        lo, hi = self.audio.peak_dbfs
        if not lo <= e.min_peak_dbfs <= e.limiter_ceiling_dbfs <= hi:
            problems.append(f"encode.min_peak_dbfs … limiter_ceiling_dbfs must lie inside S1 "
                            f"{lo}…{hi}")
        if e.title_card_s > self.structure.title_card_max_s:
            problems.append("encode.title_card_s is longer than A4 allows")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Region(_Model):
    source: Literal["slides", "teacher"]
    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0, le=1)

    @model_validator(mode="after")
    def _inside(self) -> Region:
        if self.x + self.w > 1.0001 or self.y + self.h > 1.0001:
            raise ValueError(f"region for {self.source} leaves the frame")
        return self


class Layout(_Model):
    name: str
    background: tuple[int, int, int]
    regions: tuple[Region, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(r.source for r in self.regions)

    @model_validator(mode="after")
    def _slides_uncovered(self) -> Layout:
        """B3: the slides complete: no region painted after theirs (later in the list)
        overlaps it."""
        names = [r.source for r in self.regions]
        if "slides" in names:
            k = names.index("slides")
            s = self.regions[k]
            for r in self.regions[k + 1:]:
                if (min(s.x + s.w, r.x + r.w) - max(s.x, r.x) > 1e-4
                        and min(s.y + s.h, r.y + r.h) - max(s.y, r.y) > 1e-4):
                    raise ValueError(f"layout {self.name}: the {r.source} region is painted "
                                     "over the slides (B3 wants them complete)")
        return self


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = HERE / f"{name_or_path}.yaml"
    if candidate.exists() and candidate.name != "layouts.yaml":
        return candidate
    known = sorted(p.stem for p in HERE.glob("*.yaml") if p.stem != "layouts")
    raise ProfileError(f"unknown profile {name_or_path!r}: use one of {known} or a YAML path")


@cache
def load_profile(name_or_path: str | Path = DEFAULT_PROFILE) -> Profile:
    """Load and validate a delivery profile by name (file stem) or path."""
    path = _resolve(name_or_path)
    try:
        return Profile.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise ProfileError(f"{path}: invalid profile:\n{exc}") from exc


@cache
def load_layouts(path: Path = HERE / "layouts.yaml") -> dict[str, Layout]:
    """All layouts by name, validated."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of layout names")
    try:
        return {name: Layout.model_validate({"name": name, **spec}) for name, spec in data.items()}
    except (ValidationError, TypeError) as exc:
        raise ProfileError(f"{path}: invalid layout:\n{exc}") from exc


def load_layout(name: str) -> Layout:
    layouts = load_layouts()
    if name not in layouts:
        raise ProfileError(f"unknown layout {name!r}: use one of {sorted(layouts)}")
    return layouts[name]
