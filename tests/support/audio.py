"""Small recordings in the three containers browsers record dictation in, built byte by byte
from the formats' specifications (EBML/Matroska, Ogg with Opus, ISO BMFF), with a given
length. The audio frames are filler: only the containers' timing is read."""

from __future__ import annotations

import struct


def _ebml_size(size: int) -> bytes:
    return b"\x01" + size.to_bytes(7, "big")  # an 8-byte size: simplest to write


UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def _element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _ebml_size(len(payload)) + payload


def webm(seconds: float, *, declared: bool = False) -> bytes:
    """A WebM recording as MediaRecorder writes it: a segment and clusters of unknown size,
    no duration (unless ``declared``), blocks every 20 ms."""
    header = _element(b"\x1a\x45\xdf\xa3", _element(b"\x42\x82", b"webm"))
    info_fields = _element(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big"))  # 1 ms ticks
    if declared:
        info_fields += _element(b"\x44\x89", struct.pack(">d", seconds * 1000))
    segment = _element(b"\x15\x49\xa9\x66", info_fields)
    total_ms = int(seconds * 1000)
    for cluster_start in range(0, total_ms, 1000):
        segment += b"\x1f\x43\xb6\x75" + UNKNOWN_SIZE
        segment += _element(b"\xe7", cluster_start.to_bytes(4, "big"))
        for offset in range(0, min(1000, total_ms - cluster_start + 1), 20):
            block = b"\x81" + struct.pack(">h", offset) + b"\x80" + b"\xfc\xff\xfe"
            segment += _element(b"\xa3", block)
    return header + b"\x18\x53\x80\x67" + UNKNOWN_SIZE + segment


def _ogg_page(granule: int, sequence: int, payload: bytes, header_type: int = 0) -> bytes:
    head = b"OggS" + struct.pack("<BBqIIIB", 0, header_type, granule, 1, sequence, 0, 1)
    return head + bytes([len(payload)]) + payload


def ogg(seconds: float, *, pre_skip: int = 312) -> bytes:
    """An Ogg Opus recording: its head, then pages whose granule counts 48 kHz samples."""
    opus_head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48_000, 0, 0)
    pages = [_ogg_page(0, 0, opus_head, header_type=2), _ogg_page(0, 1, b"OpusTags" + bytes(8))]
    samples = int(seconds * 48_000)
    for number, granule in enumerate(range(960, samples + 1, 48_000), start=2):
        pages.append(_ogg_page(granule + pre_skip, number, b"\xfc" * 20))
    pages.append(_ogg_page(samples + pre_skip, len(pages), b"\xfc" * 20, header_type=4))
    return b"".join(pages)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seconds: float) -> bytes:
    """An MP4 (M4A) recording: ``ftyp``, a ``moov`` whose ``mvhd`` says how long it is."""
    mvhd = struct.pack(">BxxxIIII", 0, 0, 0, 1000, int(seconds * 1000)) + bytes(80)
    return _box(b"ftyp", b"M4A \x00\x00\x00\x00isomM4A ") + _box(b"moov", _box(b"mvhd", mvhd))
