"""What a dictation recording is, and how long it lasts, read from its container.

ChatKit records in the browser's own format: ``audio/webm`` (Chrome, Edge), ``audio/ogg``
(Firefox) or ``audio/mp4`` (Safari). Each says, one way or another, how long it is: an Ogg
stream's last page carries its sample position, MP4 its movie header's duration, WebM its
segment duration or (a browser's MediaRecorder writes none) the timecodes of its clusters
and blocks. When a recording does not say, only its size bounds it.
"""

from __future__ import annotations

import struct

CONTAINERS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "mp4"}


def container_of(head: bytes) -> str | None:
    """``webm``, ``ogg`` or ``mp4``, from the first bytes; ``None`` for anything else."""
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    return None


def duration_of(data: bytes) -> float | None:
    """Seconds of audio in ``data``, or ``None`` if its container does not say."""
    readers = {"webm": webm_duration, "ogg": ogg_duration, "mp4": mp4_duration}
    kind = container_of(data[:12])
    try:
        return readers[kind](data) if kind else None
    except (IndexError, StopIteration, struct.error, ValueError):  # malformed: not told
        return None


# -- Ogg ---------------------------------------------------------------------------------------


def ogg_duration(data: bytes) -> float | None:
    last = data.rfind(b"OggS")
    if last < 0 or last + 14 > len(data):
        return None
    (granule,) = struct.unpack_from("<q", data, last + 6)
    if granule < 0:
        return None
    opus = data.find(b"OpusHead")
    if opus >= 0:
        (pre_skip,) = struct.unpack_from("<H", data, opus + 10)
        return max(0, granule - pre_skip) / 48_000  # Opus always counts at 48 kHz
    vorbis = data.find(b"\x01vorbis")
    if vorbis >= 0:
        (rate,) = struct.unpack_from("<I", data, vorbis + 12)
        return granule / rate if rate else None
    return None


# -- MP4 ---------------------------------------------------------------------------------------


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes between ``start`` and ``end``."""
    found = []
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, start + 8)
            header = 16
        elif size == 0:
            size = end - start
        if size < header:
            break
        found.append((kind, start + header, min(start + size, end)))
        start += size
    return found


def mp4_duration(data: bytes) -> float | None:
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for inner, payload, _ in _boxes(data, start, end):
            if inner != b"mvhd":
                continue
            version = data[payload]
            if version == 1:
                timescale, duration = struct.unpack_from(">IQ", data, payload + 20)
            else:
                timescale, duration = struct.unpack_from(">II", data, payload + 12)
            # A fragmented recording leaves it 0 (or all ones): its length is not told here.
            if timescale and 0 < duration < 0xFFFFFFFF:
                return duration / timescale
    return None


# -- WebM (Matroska's EBML) --------------------------------------------------------------------

SEGMENT, INFO, CLUSTER, BLOCK_GROUP = 0x18538067, 0x1549A966, 0x1F43B675, 0xA0
TIMECODE_SCALE, DURATION, CLUSTER_TIMECODE = 0x2AD7B1, 0x4489, 0xE7
SIMPLE_BLOCK, BLOCK = 0xA3, 0xA1
# Entered rather than skipped: the elements that hold what we read (a browser writes the
# segment and its clusters with an unknown size, so they cannot be skipped anyway).
MASTERS = {SEGMENT, INFO, CLUSTER, BLOCK_GROUP}


def _vint(data: bytes, at: int, *, keep_marker: bool) -> tuple[int, int, bool]:
    """An EBML variable-length integer at ``at``: (value, its length, all value bits set)."""
    first = data[at]
    length = next(n for n in range(1, 9) if first & (0x80 >> (n - 1)))
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[at + 1 : at + length]:
        value = (value << 8) | byte
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, length, unknown


def webm_duration(data: bytes) -> float | None:
    scale, declared, cluster, latest = 1_000_000, None, 0, None
    at = 0
    while at < len(data):
        element, id_length, _ = _vint(data, at, keep_marker=True)
        size, size_length, unknown = _vint(data, at + id_length, keep_marker=False)
        payload = at + id_length + size_length
        body = data[payload : payload + size]
        if element in MASTERS:
            at = payload  # read its children next
            continue
        if element == TIMECODE_SCALE:
            scale = int.from_bytes(body, "big") or scale
        elif element == DURATION:
            declared = struct.unpack(">f" if size == 4 else ">d", body)[0]
        elif element == CLUSTER_TIMECODE:
            cluster = int.from_bytes(body, "big")
        elif element in (SIMPLE_BLOCK, BLOCK):
            _, track_length, _ = _vint(body, 0, keep_marker=False)
            (offset,) = struct.unpack_from(">h", body, track_length)
            latest = max(latest or 0, cluster + offset)
        if unknown:
            return None  # an unknown-size leaf: nothing after it can be read
        at = payload + size
    ticks = declared if declared else latest
    return ticks * scale / 1e9 if ticks is not None else None
