"""Host framing of the board protocol: COBS, CRC-32, the streaming decoder (unit tests and a
hypothesis fuzz: no exception, bounded memory, never a wrong frame accepted)."""
from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgekiln.boards import messages as m
from edgekiln.boards.framing import (Frame, FrameDecoder, FrameError, cobs_decode, cobs_encode, crc32,
                                     encode_frame, raw_frame)


def test_crc32_is_ieee_check_value():
    assert crc32(b"123456789") == 0xCBF43926 == zlib.crc32(b"123456789")


@pytest.mark.parametrize("data,encoded", [
    (b"", b"\x01"), (b"\x00", b"\x01\x01"), (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"), (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
])
def test_cobs_known_vectors(data, encoded):
    assert cobs_encode(data) == encoded
    assert cobs_decode(encoded) == data


def test_cobs_long_runs_cross_block_boundaries():
    for n in (253, 254, 255, 508, 509, 1000):
        data = bytes(range(1, 256)) * 4
        assert cobs_decode(cobs_encode(data[:n])) == data[:n]
        assert b"\x00" not in cobs_encode(data[:n])


def test_frame_layout():
    raw = raw_frame(m.INFER, 0x0102, b"\xaa\xbb")
    assert raw[:4] == bytes([1, m.INFER, 0x02, 0x01]) and raw[4:6] == b"\xaa\xbb"
    assert struct.unpack("<I", raw[6:])[0] == zlib.crc32(raw[:6])


def test_decoder_resyncs_after_garbage_and_reports_it():
    d = FrameDecoder()
    good = encode_frame(m.PING, 7, b"hi")
    events = d.feed(b"\x13\x37garbage\x00" + good + b"\xff" * 5 + b"\x00" + good)
    assert [e for e in events if isinstance(e, Frame)] == [Frame(m.PING, 7, b"hi")] * 2
    errors = [e for e in events if not isinstance(e, Frame)]
    assert len(errors) == 2 and all(isinstance(e, FrameError) for e in errors)
    assert d.stats.frames == 2 and sum(d.stats.errors.values()) == 2


def test_decoder_bounds_a_frame_without_delimiter():
    d = FrameDecoder(max_encoded=64)
    assert d.feed(b"\x05" * 10_000) == []
    assert len(d._buf) <= 64
    events = d.feed(b"\x00" + encode_frame(m.PING, 1))
    assert [getattr(e, "kind", None) for e in events] == ["oversize", None]


def test_decoder_rejects_bad_crc_and_version():
    raw = bytearray(raw_frame(m.PING, 3, b"abc"))
    raw[5] ^= 1
    [e] = FrameDecoder().feed(cobs_encode(bytes(raw)) + b"\x00")
    assert isinstance(e, FrameError) and e.kind == "crc"
    [e] = FrameDecoder().feed(encode_frame(m.PING, 3, b"", version=2))
    assert e.kind == "version"


def test_hello_and_results_parse():
    payload = bytes([1, 1]) + struct.pack("<HHBBBBBB", 520, 32, 1, 0, 0, 1, 1, 0) + struct.pack("<HH", 4, 3)
    payload += bytes(range(32)) + b"\x09cortex-m4\x04iris\x050.1.0"
    h = m.parse_hello(payload)
    assert (h.at_boot, h.max_batch, h.input_shape, h.output_shape, h.target, h.model, h.counter) == (
        True, 32, (4,), (3,), "cortex-m4", "iris", None)
    assert h.model_hash == bytes(range(32)).hex()
    with pytest.raises(m.PayloadError):
        m.parse_hello(payload[:60])
    rec = struct.pack("<iI3f", 2, 0, 0.25, 0.5, 0.25)
    labels, cycles, outs = m.parse_results(rec * 2, 2, 3)
    assert labels.tolist() == [2, 2] and outs[1].tolist() == [0.25, 0.5, 0.25]


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_cobs_roundtrip(data):
    enc = cobs_encode(data)
    assert b"\x00" not in enc and cobs_decode(enc) == data


@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(1, 400))
@settings(max_examples=300, deadline=None)
def test_decoder_never_raises_and_stays_bounded(chunks, cap):
    d = FrameDecoder(max_encoded=cap)
    for c in chunks:
        for ev in d.feed(c):
            assert isinstance(ev, (Frame, FrameError))
        assert len(d._buf) <= cap


@given(st.integers(0, 0x7F), st.integers(0, 0xFFFF), st.binary(max_size=600),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
       st.binary(max_size=40), st.integers(1, 7))
@settings(max_examples=500, deadline=None)
def test_corrupted_frames_never_decode_to_a_different_frame(type_, seq, payload, flips, garbage, split):
    """Garbage before, random byte changes, and any split of the stream into reads: the decoder
    yields the original frame or errors, never another frame."""
    wire = bytearray(garbage + b"\x00" + encode_frame(type_, seq, payload))
    for pos, val in flips:
        wire[pos % len(wire)] = val
    d = FrameDecoder()
    step = max(1, len(wire) // split)
    events = [e for i in range(0, len(wire), step) for e in d.feed(bytes(wire[i:i + step]))]
    for e in events:
        if isinstance(e, Frame):
            assert e == Frame(type_, seq, payload)
    if not flips:
        assert Frame(type_, seq, payload) in events
