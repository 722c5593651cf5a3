"""Short media files made by an independent encoder (the FFmpeg binary of imageio-ffmpeg),
each breaking one delivery clause (D2–D10) of a profile, or none.

Every clip starts from the profile's own delivery format (a lavfi test pattern and a steady
440 Hz tone; x264 CBR with filler at the profile's encode bit rate; native AAC at the D9
rate) and changes one thing. ``CLIPS`` says which ``format.*`` checks each one must fail.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import av
import imageio_ffmpeg

from courseware.aac import CbrPadder
from encoder_profiles import Profile

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
DURATION_S = 4.0  # two complete 2-s bit-rate windows, and quick to make
PADDED_ENCODE_SHARE = 0.75  # padded AAC: encode at 3/4 of the rate, so padding can fill up

VIDEO_CHECKS = frozenset({"format.video_codec", "format.pixel_format", "format.bitrate",
                          "format.resolution",
                          "format.aspect", "format.fps", "format.scan"})
AUDIO_CHECKS = frozenset({"format.audio_codec", "format.audio_rate", "format.audio_bitrate",
                          "format.audio_channels"})


@dataclass(frozen=True)
class Clip:
    """One generated file: what differs from the delivery format, and what must fail."""

    name: str
    fails: frozenset[str]
    suffix: str = ".mp4"
    size: tuple[int, int] | None = None  # default: the profile's encode size
    fps: str | None = None  # default: the profile's fps
    video_filter: str | None = None
    video_source: str = "testsrc2"  # a lavfi video source
    video_args: tuple[str, ...] | None = None  # replaces the x264 CBR arguments
    kbps: float | None = None  # default: the profile's encode bit rate
    interlaced: bool = False
    pixel_format: str = "yuv420p"
    audio_rate: int | None = None
    channels: int | None = None
    audio_filter: str | None = None
    audio_args: tuple[str, ...] | None = None  # replaces the native AAC arguments
    # AAC made strictly constant: encoded below the D9 rate, then every frame padded with
    # fill elements onto the constant-rate line (courseware.aac), 341/342 bytes at 128 kbps
    padded_aac: bool = False
    video: bool = True
    audio: bool = True
    faststart: bool = True
    extra: tuple[str, ...] = field(default=())

    def command(self, out: Path, profile: Profile) -> list[str]:
        enc, d = profile.encode, profile.delivery
        width, height = self.size or (enc.width, enc.height)
        fps = self.fps or str(d.fps)
        rate = self.audio_rate or d.audio_rate
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
        if self.video:
            cmd += ["-f", "lavfi", "-i",
                    f"{self.video_source}=size={width}x{height}:rate={fps}:duration={DURATION_S}"]
        if self.audio:
            cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}"
                                          f":duration={DURATION_S}"]
        if self.video:
            if self.video_filter:
                cmd += ["-vf", self.video_filter]
            kbps = round(self.kbps or enc.video_bitrate_kbps)
            params = "nal-hrd=cbr" + (":tff=1" if self.interlaced else "")
            cmd += list(self.video_args or (
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", self.pixel_format,
                "-x264-params", params))
            # CBR; a VBV buffer of 0.2 s keeps every 2-s window near the target (D3)
            cmd += ["-b:v", f"{kbps}k", "-minrate", f"{kbps}k", "-maxrate", f"{kbps}k",
                    "-bufsize", f"{round(kbps / 5)}k", "-g", str(2 * d.fps)]
            if self.interlaced:
                cmd += ["-flags", "+ildct+ilme"]
        else:
            cmd += ["-vn"]
        if self.audio:
            if self.audio_filter:
                cmd += ["-af", self.audio_filter]
            cmd += ["-ac", str(self.channels or d.audio_channels), "-ar", str(rate)]
            kbps = d.audio_bitrate_kbps * (PADDED_ENCODE_SHARE if self.padded_aac else 1)
            cmd += list(self.audio_args or ("-c:a", "aac", "-b:a", f"{kbps:g}k"))
        else:
            cmd += ["-an"]
        if self.faststart and self.suffix in (".mp4", ".mov"):
            cmd += ["-movflags", "+faststart"]
        return [*cmd, *self.extra, str(out)]

    def make(self, folder: Path, profile: Profile) -> Path:
        out = folder / f"{self.name}{self.suffix}"
        raw = out.with_name(f"{self.name}.raw{self.suffix}") if self.padded_aac else out
        subprocess.run(self.command(raw, profile), check=True, capture_output=True, timeout=120)
        if self.padded_aac:
            pad_aac(raw, out, kbps=profile.delivery.audio_bitrate_kbps)
            raw.unlink()
        return out


def pad_aac(src: Path, dst: Path, *, kbps: float) -> None:
    """Remux ``src`` to ``dst`` (MP4, faststart) with every AAC frame padded to ``kbps``."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4",
                                           options={"movflags": "+faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams
                   if s.type in ("video", "audio")}
        audio = inp.streams.audio[0]
        padder = CbrPadder(bitrate=round(kbps * 1000), sample_rate=audio.sample_rate)
        for packet in inp.demux(list(inp.streams)):
            if packet.dts is None or packet.stream_index not in streams:
                continue
            target = streams[packet.stream_index]
            if packet.stream_index == audio.index:
                padded = av.Packet(padder.pad(bytes(packet)))
                padded.pts, padded.dts, padded.duration = packet.pts, packet.dts, packet.duration
                padded.time_base = packet.time_base
                packet = padded
            packet.stream = target
            out.mux(packet)


def _clips() -> dict[str, Clip]:
    v, a = "format.", "format.audio_"
    clips = [
        # the delivery format itself; FFmpeg's native AAC is average-bit-rate, but on a
        # steady tone it stays within one decoder buffer of the constant line (CBR per D9)
        Clip("reference", frozenset()),
        Clip("reference_padded", frozenset(), padded_aac=True),
        Clip("fps30", frozenset({v + "fps"}), fps="30"),
        Clip("fps2997", frozenset({v + "fps"}), fps="30000/1001"),
        # AVI counts time in frames (its time base 1/30 s here): one tick of slack is wider
        # than the step from 30 to 25 fps, so the rate itself must be held to 25
        Clip("avi30", frozenset({v + "container", v + "fps"}), suffix=".avi", fps="30"),
        # frames alternately 20 and 60 ms apart: 25 fps on average, but variable
        Clip("vfr", frozenset({v + "fps"}),
             video_filter="settb=1/1000,setpts='(N+0.5*mod(N\\,2))/(25*TB)'",
             extra=("-fps_mode", "passthrough", "-video_track_timescale", "1000")),
        Clip("4x3", frozenset({v + "resolution", v + "aspect"}), size=(960, 720)),
        Clip("anamorphic", frozenset({v + "aspect"}), video_filter="setsar=4/3"),
        Clip("small", frozenset({v + "resolution"}), size=(640, 360)),
        Clip("interlaced", frozenset({v + "scan"}), interlaced=True),
        Clip("2mbps", frozenset({v + "bitrate"}), kbps=2000),
        # H.264 as cameras and editors export it, which browsers and phones cannot play:
        # 10-bit (High 10), 4:2:2 (High 4:2:2); and a phone's HLG HDR video (10-bit too)
        Clip("10bit", frozenset({v + "pixel_format"}), pixel_format="yuv420p10le"),
        Clip("422", frozenset({v + "pixel_format"}), pixel_format="yuv422p"),
        Clip("hlg", frozenset({v + "pixel_format"}), pixel_format="yuv420p10le",
             video_filter="setparams=color_primaries=bt2020:color_trc=arib-std-b67"
                          ":colorspace=bt2020nc"),
        # MPEG-4 Part 2 cannot hold the D3 rate on testsrc2's detail: a plainer pattern
        Clip("mpeg4", frozenset({v + "video_codec"}), video_source="testsrc",
             video_args=("-c:v", "mpeg4", "-pix_fmt", "yuv420p")),
        # native AAC on one channel at 128 kbps strays by ~ one decoder buffer: padded
        Clip("mono", frozenset({a + "channels"}), channels=1, padded_aac=True),
        Clip("44k1", frozenset({a + "rate"}), audio_rate=44100),
        # the sound twice, on two tracks: not mixed down to one stereo track
        Clip("two_tracks", frozenset({a + "channels"}),
             extra=("-map", "0:v", "-map", "1:a", "-map", "1:a")),
        Clip("mp3", frozenset({a + "codec"}), audio_args=("-c:a", "libmp3lame", "-b:a", "128k")),
        # tone half of every second, silence the other half: the native AAC encoder spends
        # next to nothing on silence, so the rate is variable (and low on average)
        Clip("audio_vbr", frozenset({a + "bitrate"}),
             audio_filter="volume='if(lt(mod(t,1),0.5),1,0)':eval=frame"),
        Clip("mkv", frozenset({v + "container"}), suffix=".mkv"),  # faststart: skip
        Clip("quicktime", frozenset({v + "container"}), suffix=".mov"),
        Clip("no_faststart", frozenset({v + "faststart"}), faststart=False),
        Clip("no_audio", AUDIO_CHECKS, audio=False),
        Clip("no_video", VIDEO_CHECKS, video=False),
    ]
    return {c.name: c for c in clips}


CLIPS = _clips()
