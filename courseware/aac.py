"""Constant bit rate for AAC-LC: pad each raw frame with fill elements (D9).

FFmpeg's native AAC encoder is average-bit-rate: on speech with pauses it spends far less
than asked, and readers (MediaInfo, the platform) see a variable rate. D9 wants 128 kbps
constant. A raw_data_block may carry fill elements (ISO/IEC 14496-3, 4.4.2.1, ID_FIL = 6)
that decoders skip, so we prepend them to bring every frame to the size a constant rate
gives it. The decoded audio is bit-identical (tests check it).
"""

from __future__ import annotations

ID_FIL = 6  # ISO/IEC 14496-3 Table 4.85: id_syn_ele for fill_element
_MAX_COUNT = 15 + 255 - 1  # count (4 bits) 15 + esc_count (8 bits) - 1


def _fill_counts(extra: int) -> list[int]:
    """Fill-element byte counts ``c`` so that prepending them grows a frame by ``extra`` bytes.

    A fill element costs 3 + 4 bits of header (+ 8 bits of esc_count when c ≥ 15) and c bytes.
    Elements whose header bits add up to less than a byte each add a whole byte after
    alignment, so for k elements (k ≤ 7) the sizes ``e = c + [c ≥ 15]`` must sum to extra - k.
    """
    for k in range(1, 8):
        remaining = extra - k
        if remaining < 0:
            break
        counts: list[int] = []
        for i in range(k):
            last = i == k - 1
            e = remaining if last else min(remaining, _MAX_COUNT + 1)
            if e == 15:  # c = 14 costs e = 14, c = 15 costs e = 16: 15 is not reachable
                if last:
                    break
                e = 14
            if e > _MAX_COUNT + 1:
                break
            counts.append(e if e < 15 else e - 1)
            remaining -= e
        else:
            if remaining == 0:
                return counts
    raise ValueError(f"cannot pad an AAC frame by {extra} bytes")


def pad_raw_frame(data: bytes, size: int) -> bytes:
    """``data`` (one raw AAC frame) grown to exactly ``size`` bytes with fill elements."""
    extra = size - len(data)
    if extra <= 0:
        return data
    value = 0
    bits = 0
    for count in _fill_counts(extra):
        if count < 15:
            value = (value << 7) | (ID_FIL << 4) | count
            bits += 7
        else:
            value = (value << 15) | (ID_FIL << 12) | (15 << 8) | (count - 14)
            bits += 15
        if count:
            # extension_payload: extension_type EXT_FILL (0000) + fill_nibble (0000),
            # then fill_byte 10100101 (ISO/IEC 14496-3, 4.4.2.7)
            payload = b"\x00" + b"\xa5" * (count - 1)
            value = (value << (8 * count)) | int.from_bytes(payload, "big")
            bits += 8 * count
    value = (value << (8 * len(data))) | int.from_bytes(data, "big")
    bits += 8 * len(data)
    align = -bits % 8
    return (value << align).to_bytes((bits + align) // 8, "big")


class CbrPadder:
    """Keeps the cumulative size of a stream of raw AAC frames on a constant-rate line.

    Frame n ends at ``floor(n · bitrate · frame_samples / rate / 8)`` bytes: at 128 kbps and
    48 kHz, 341 or 342 bytes a frame. A frame the encoder made larger (an onset) borrows
    from the following ones, as AAC's bit reservoir allows (ISO/IEC 14496-3: at most 6144
    bits per channel of decoder buffer), so the average stays exact and the rate over any
    window is constant within one buffer. ``max_debt`` records the largest excursion.

    FFmpeg's encoder overspends at speech onsets after pauses (its rate control drifts to
    high quality in silence), so :meth:`encoder_rate` steers it: aim 1/8 under the delivery
    rate and lower the aim while the stream is above the line. The encoder reads its bit
    rate on every frame, so the feedback takes effect at once.
    """

    HEADROOM = 7 / 8
    GAIN = 100.0  # bit/s less per byte of debt: 1 kB of debt → the minimum rate
    MIN_RATE = 16_000
    #: ISO/IEC 14496-3 decoder buffer: 6144 bits per channel
    BUFFER_BITS_PER_CHANNEL = 6144

    def __init__(self, *, bitrate: int, sample_rate: int, frame_samples: int = 1024) -> None:
        self.bitrate = bitrate
        self.sample_rate = sample_rate
        self.frame_samples = frame_samples
        self.frames = 0
        self.bytes = 0
        self.max_debt = 0

    def _line(self, frames: int) -> int:
        return frames * self.bitrate * self.frame_samples // (self.sample_rate * 8)

    @property
    def debt(self) -> int:
        """Bytes the stream is above the constant-rate line now."""
        return self.bytes - self._line(self.frames)

    def encoder_rate(self) -> int:
        """The bit rate to ask of the encoder for its next frame."""
        aim = self.bitrate * self.HEADROOM - self.GAIN * max(self.debt, 0)
        return int(max(self.MIN_RATE, aim))

    def pad(self, data: bytes) -> bytes:
        self.frames += 1
        target = self._line(self.frames)
        out = pad_raw_frame(data, target - self.bytes)
        self.bytes += len(out)
        self.max_debt = max(self.max_debt, self.bytes - target)
        return out
