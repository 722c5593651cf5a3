"""Format checks of a delivered lecture against the profile's delivery clauses (D2–D10).

A pure function over a :class:`~courseware.probe.MediaProbe` (plain numbers measured by the
probe task) and the typed profile: no file I/O, no Prefect. Every threshold comes from
``profile.delivery``; messages are written for the training base, not for an engineer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from courseware.probe import HDR_TRANSFERS
from courseware.report import Check, Status

if TYPE_CHECKING:
    from courseware.probe import AudioProbe, MediaProbe, VideoProbe
    from encoder_profiles import Delivery, Profile

# ISO/IEC 14496-3, 4.5.3.1: an AAC decoder's input buffer holds 6144 bits per channel. A
# constant-rate stream never strays further than this from its constant-rate line.
AAC_BUFFER_BITS_PER_CHANNEL = 6144
QUICKTIME_BRAND = "qt  "  # ftyp major brand of Apple QuickTime .mov files

_NAMES = {"h264": "H.264", "hevc": "H.265/HEVC", "mpeg4": "MPEG-4 Part 2",
          "mpeg2video": "MPEG-2", "aac": "AAC", "mp3": "MP3", "mp2": "MPEG-1 Layer II",
          "ac3": "AC-3", "opus": "Opus", "vorbis": "Vorbis", "mp4": "MP4"}


def check_format(probe: MediaProbe, profile: Profile) -> list[Check]:
    """The thirteen ``format.*`` checks (D2–D10), in report order."""
    d = profile.delivery
    checks = [_container(probe, d)]
    video = probe.video
    if video is None:
        why = "the file has no video stream; a delivered lecture needs H.264 video (D2)"
        checks += [_missing(i, c, why) for i, c in (
            ("format.video_codec", "D2"), ("format.pixel_format", "D2"),
            ("format.bitrate", "D3"), ("format.resolution", "D4"), ("format.aspect", "D5"),
            ("format.fps", "D6"), ("format.scan", "D7"))]
    else:
        checks += [_video_codec(video, d), _pixels(video, d), _bitrate(video, d),
                   _resolution(video, d), _aspect(video, d), _fps(video, d), _scan(video, d)]
    audio = probe.audio
    if audio is None:
        why = "the file has no audio stream; a delivered lecture needs AAC stereo sound (D9)"
        checks += [_missing(i, "D9", why) for i in (
            "format.audio_codec", "format.audio_rate", "format.audio_bitrate",
            "format.audio_channels")]
    else:
        checks += [_audio_codec(audio, d), _audio_rate(audio, d), _audio_bitrate(audio, d),
                   _audio_channels(audio, d)]
    checks.append(_faststart(probe, d))
    return checks


def _name(codec: str) -> str:
    return _NAMES.get(codec, codec)


def _status(ok: bool) -> Status:
    return "pass" if ok else "fail"


def _missing(check_id: str, clause: str, why: str) -> Check:
    return Check(check_id, clause, "fail", None, None, "", why)


def _container(probe: MediaProbe, d: Delivery) -> Check:
    # D2, D10: an MP4 (ISO BMFF) file; QuickTime .mov shares the box format but is not MP4
    is_mp4 = (d.container in probe.format_names and probe.is_iso_bmff
              and probe.major_brand != QUICKTIME_BRAND)
    found: str
    if is_mp4:
        found = d.container
    elif probe.major_brand == QUICKTIME_BRAND:
        found = "mov"
    else:
        found = probe.format_names[0] if probe.format_names else "unknown"
    want = _name(d.container)
    message = (f"{want} file, as D2/D10 ask" if is_mp4 else
               f"{found} file; the specification wants an {want} file (D2, D10): "
               f"remux or re-export it as {want}")
    return Check("format.container", "D10", _status(is_mp4), found, d.container, "", message)


def _video_codec(v: VideoProbe, d: Delivery) -> Check:
    # D2: H.264 video
    ok = v.codec == d.video_codec
    profile = v.profile or ""
    found = _name(v.codec) + (f" ({profile}{'' if 'profile' in profile.lower() else ' profile'})"
                              if profile else "")
    message = (f"{found} video, as D2 asks" if ok else
               f"{found} video; the specification wants {_name(d.video_codec)} (D2): "
               "re-encode the video")
    return Check("format.video_codec", "D2", _status(ok), v.codec, d.video_codec, "", message)


def _pixels(v: VideoProbe, d: Delivery) -> Check:
    # D2: H.264 as web browsers and phones play it: 8-bit 4:2:0 in standard dynamic range
    want = f"{d.pixel_format} (8-bit 4:2:0), SDR"
    if v.pixel_format is None:
        return Check("format.pixel_format", "D2", "skip", None, want, "",
                     "no picture could be decoded to read its pixel format")
    coded = f"{v.pixel_format} ({v.bit_depth}-bit {v.chroma})"
    hdr = HDR_TRANSFERS.get(v.transfer or "")
    wrong = []
    if v.bit_depth != 8 or v.chroma != "4:2:0":
        wrong.append(f"{coded}: H.264 beyond 8-bit 4:2:0 (the High 10, High 4:2:2 and High "
                     "4:4:4 profiles) does not play in most web browsers nor on phones' "
                     "hardware decoders, where the platform's viewers watch")
    if hdr:
        wrong.append(f"high dynamic range video ({hdr} transfer, {v.transfer}): the platform "
                     "plays standard dynamic range BT.709, where this picture looks washed "
                     "out and its colours wrong")
    if not wrong:
        return Check("format.pixel_format", "D2", "pass", v.pixel_format, want, "",
                     f"{coded}, standard dynamic range: plays in browsers and on phones, as "
                     "D2's H.264 needs")
    return Check("format.pixel_format", "D2", "fail", v.pixel_format, want, "",
                 "; ".join(wrong) + f"; re-encode as {d.pixel_format} (8-bit 4:2:0) "
                 "standard dynamic range BT.709 (FFmpeg: -pix_fmt yuv420p"
                 + (", after tone-mapping the HDR picture to SDR" if hdr else "") + ")")


def _bitrate(v: VideoProbe, d: Delivery) -> Check:
    # D3: average and windowed video bit rate within [min, max] kbps
    r = d.video_bitrate_kbps
    limits = f"{r.min:.0f}–{r.max:.0f}"
    span = f"{limits} kbps"
    window = f"{d.bitrate_window_s:g}-s windows"
    if v.bitrate_min_kbps is None or v.bitrate_max_kbps is None:
        windows = f"shorter than one of the {window}, so only the average is checked"
        windows_ok = True
    else:
        windows = f"{window} {v.bitrate_min_kbps:.0f}–{v.bitrate_max_kbps:.0f} kbps"
        windows_ok = v.bitrate_min_kbps in r and v.bitrate_max_kbps in r
    ok = v.bitrate_kbps in r and windows_ok
    measured = f"{v.bitrate_kbps:.0f} kbps on average, {windows}"
    message = (f"{measured}; within {span} (D3)" if ok else
               f"{measured}; the specification wants {span} throughout (D3): "
               "re-encode with a constant bit rate inside that range")
    return Check("format.bitrate", "D3", _status(ok), round(v.bitrate_kbps, 1), limits, "kbps",
                 message)


def _resolution(v: VideoProbe, d: Delivery) -> Check:
    # D4: at least min_width × min_height
    ok = v.width >= d.min_width and v.height >= d.min_height
    found, want = f"{v.width}x{v.height}", f"{d.min_width}x{d.min_height}"
    message = (f"{found}, at least {want} as D4 asks" if ok else
               f"{found}; the specification wants at least {want} (D4): "
               "record or export in HD")
    return Check("format.resolution", "D4", _status(ok), found, f"≥ {want}", "px", message)


def _aspect(v: VideoProbe, d: Delivery) -> Check:
    # D5: display aspect 16:9 with square pixels
    want = f"{d.aspect[0]}:{d.aspect[1]}"
    found = f"{v.display_aspect[0]}:{v.display_aspect[1]}"
    square = v.sample_aspect[0] == v.sample_aspect[1]
    ratio_ok = v.display_aspect[0] * d.aspect[1] == v.display_aspect[1] * d.aspect[0]
    if v.rotation % 360:
        turned = abs(v.rotation)
        sense = "counterclockwise" if v.rotation > 0 else "clockwise"
        shows = ("upside down" if v.rotation % 180 == 0
                 else f"as a {v.height}x{v.width} portrait picture")
        return Check("format.aspect", "D5", "fail", f"turned {turned}°", want, "", (
            f"the file asks players to turn its {v.width}x{v.height} picture {turned}° "
            f"{sense} (a display rotation, as phones write), so it shows {shows}; the "
            f"specification wants an upright {want} picture (D5): re-encode it upright "
            "(FFmpeg applies the rotation when it transcodes); the pipeline turns such a raw "
            "source upright itself"))
    if ratio_ok and square:
        message = f"{found} picture with square pixels, as D5 asks"
    elif not square:
        message = (f"pixels are not square (sample aspect {v.sample_aspect[0]}:"
                   f"{v.sample_aspect[1]}), so the {v.width}x{v.height} picture shows as "
                   f"{found}; the specification wants {want} with square pixels (D5): "
                   "re-export with a 1:1 pixel aspect")
    else:
        message = (f"{found} picture ({v.width}x{v.height}); the specification wants {want} "
                   "(D5): record or export in widescreen")
    return Check("format.aspect", "D5", _status(ratio_ok and square), found, want, "", message)


#: D6: a constant-rate stream's average rate, from its timestamps, is the nominal one within
#: this share (a container's rounding); 30 or 29.97 fps is not 25
FPS_TOLERANCE = 0.005


def _fps(v: VideoProbe, d: Delivery) -> Check:
    # D6: constant fps; every frame interval is 1/fps within one tick of the time base, and
    # the average rate is the nominal one (a coarse time base, AVI's 1/30 s, is one tick
    # of slack wider than the step from 30 to 25 fps)
    nominal = 1 / d.fps
    slack = v.timestamp_tick_s + 1e-6
    constant = v.frame_interval_max_s - v.frame_interval_min_s <= slack
    ok = (abs(v.frame_interval_min_s - nominal) <= slack
          and abs(v.frame_interval_max_s - nominal) <= slack
          and abs(v.fps - d.fps) <= FPS_TOLERANCE * d.fps)
    want = f"the specification wants {d.fps} fps constant (D6)"
    if ok:
        message = f"{d.fps} fps constant, as D6 asks"
    elif constant:
        message = f"{v.fps:.4g} fps; {want}: convert the frame rate to {d.fps} fps"
    else:
        message = (f"variable frame rate: frames {v.frame_interval_min_s * 1000:.0f}–"
                   f"{v.frame_interval_max_s * 1000:.0f} ms apart ({v.fps:.4g} fps on "
                   f"average); {want}: re-encode at a constant {d.fps} fps")
    return Check("format.fps", "D6", _status(ok), round(v.fps, 3), float(d.fps), "fps", message)


def _scan(v: VideoProbe, d: Delivery) -> Check:
    # D7: progressive scan (no field-coded / MBAFF frames, field order progressive)
    ok = not (d.progressive and v.interlaced)
    found = "interlaced" if v.interlaced else "progressive"
    order = {"tt": "top field first", "tb": "top field first", "bb": "bottom field first",
             "bt": "bottom field first"}.get(v.field_order)
    message = (f"{found} scan" + (", as D7 asks" if d.progressive else "") if ok else
               f"interlaced video{f' ({order})' if order else ''}; the specification "
               "wants progressive scan (D7): deinterlace and re-encode")
    return Check("format.scan", "D7", _status(ok), found,
                 "progressive" if d.progressive else "any", "", message)


def _audio_codec(a: AudioProbe, d: Delivery) -> Check:
    # D9: AAC, LC profile
    ok = a.codec == d.audio_codec and a.profile == d.audio_profile
    found = _name(a.codec) + (f"-{a.profile}" if a.profile else "")
    want = f"{_name(d.audio_codec)}-{d.audio_profile}"
    message = (f"{found} audio, as D9 asks" if ok else
               f"{found} audio; the specification wants {want} (D9): re-encode the sound")
    return Check("format.audio_codec", "D9", _status(ok), found, want, "", message)


def _audio_rate(a: AudioProbe, d: Delivery) -> Check:
    # D9: sample rate
    ok = a.sample_rate == d.audio_rate
    message = (f"{a.sample_rate} Hz, as D9 asks" if ok else
               f"{a.sample_rate} Hz; the specification wants {d.audio_rate} Hz (D9): "
               f"resample the sound to {d.audio_rate} Hz")
    return Check("format.audio_rate", "D9", _status(ok), a.sample_rate, d.audio_rate, "Hz",
                 message)


def _audio_bitrate(a: AudioProbe, d: Delivery) -> Check:
    # D9: 128 kbps constant. Level: the average within the profile tolerance (windows are
    # only reported: a window holds a whole number of packets, ±1 packet is ±0.5 % at 2 s);
    # constancy: the cumulative size stays within an AAC decoder buffer of a constant line
    want, tol = d.audio_bitrate_kbps, d.audio_bitrate_tolerance
    level_ok = abs(a.bitrate_kbps - want) <= tol * want
    buffer_bytes = AAC_BUFFER_BITS_PER_CHANNEL * max(a.channels, 1) / 8
    constant = a.rate_deviation_bytes <= buffer_bytes
    found = f"{a.bitrate_kbps:.1f} kbps"
    if a.bitrate_min_kbps is not None and a.bitrate_max_kbps is not None:
        found += (f" ({d.bitrate_window_s:g}-s windows {a.bitrate_min_kbps:.1f}–"
                  f"{a.bitrate_max_kbps:.1f})")
    spec = f"the specification wants {want:g} kbps constant (D9)"
    if level_ok and constant:
        message = f"{found}, constant, as D9 asks"
    elif constant:
        message = f"{found}; {spec}: re-encode the sound at {want:g} kbps"
    else:
        message = (f"{found}, variable: the rate drifts by {a.rate_deviation_bytes:.0f} bytes "
                   f"from a constant line (more than an AAC decoder buffer of "
                   f"{buffer_bytes:.0f} bytes; packets {a.packet_bytes_min}–"
                   f"{a.packet_bytes_max} bytes); {spec}: re-encode with a constant bit rate")
    return Check("format.audio_bitrate", "D9", _status(level_ok and constant),
                 round(a.bitrate_kbps, 2), float(want), "kbps", message)


def _audio_channels(a: AudioProbe, d: Delivery) -> Check:
    # D9: two channels, mixed down
    names = {1: "mono", 2: "stereo"}
    found, want = names.get(a.channels, f"{a.channels} channels"), names.get(
        d.audio_channels, f"{d.audio_channels} channels")
    ok = a.channels == d.audio_channels
    message = (f"{found}, as D9 asks" if ok else
               f"{found} sound; the specification wants {want} (D9): mix the sound down "
               f"to {d.audio_channels} channels")
    if a.tracks > 1:
        ok, message = False, (
            f"{a.tracks} audio tracks (the first is {found}): a player plays one of them and "
            f"the rest is lost; the specification wants the sound mixed down to one {want} "
            "track (D9): mix the tracks you need into one and leave the others out")
    return Check("format.audio_channels", "D9", _status(ok), a.channels, d.audio_channels,
                 "channels", message)


def _faststart(probe: MediaProbe, d: Delivery) -> Check:
    # D10: moov before mdat, so a browser starts playing before the download ends
    if probe.faststart is None:
        return Check("format.faststart", "D10", "skip", None, "moov before mdat", "",
                     "not an MP4 file, so there is no index to place (see format.container)")
    ok = probe.faststart or not d.faststart
    found = "index first" if probe.faststart else "index at the end"
    message = (f"{found} (moov before mdat): plays while downloading, as D10 asks" if ok else
               f"{found} (moov after mdat): a browser must download the whole file before "
               "playing; the specification wants web-ready MP4 (D10): remux with "
               "'-movflags +faststart'")
    return Check("format.faststart", "D10", _status(ok), found, "moov before mdat", "", message)
