"""The SAM frame codec: published vectors, SW3 → exceptions, and a decoder that survives anything."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.idcard import protocol as p

FIND_REQUEST = bytes.fromhex("AA AA AA 96 69 00 03 20 01 22")
FOUND_REPLY = bytes.fromhex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")


def test_find_card_request_matches_published_bytes():
    assert p.build_request(0x20, 0x01) == FIND_REQUEST
    assert p.build_request(*p.FIND_CARD) == FIND_REQUEST


def test_found_reply_matches_published_bytes_and_parses_as_found():
    assert p.build_reply(0x9F, bytes(4)) == FOUND_REPLY
    (reply,) = p.FrameDecoder().feed(FOUND_REPLY)
    assert reply == p.Reply(0x00, 0x00, 0x9F, bytes(4))
    assert p.check_reply(reply, p.SW3_FOUND) is reply


def test_checksum_is_xor_from_length_to_before_checksum():
    assert p.checksum(FIND_REQUEST[5:-1]) == FIND_REQUEST[-1] == 0x22
    assert p.checksum(FOUND_REPLY[5:-1]) == 0x97
    assert p.checksum(b"") == 0


@pytest.mark.parametrize(
    "cmd, hex_frame",
    [
        (p.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
        (p.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
        (p.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
        (p.READ_TEXT_PHOTO, "AA AA AA 96 69 00 03 30 01 32"),
        (p.RESET_SAM, "AA AA AA 96 69 00 03 10 FF EC"),
    ],
)
def test_other_requests_have_exact_bytes(cmd, hex_frame):
    assert p.build_request(*cmd) == bytes.fromhex(hex_frame)


def test_no_card_reply_is_four_byte_length():
    assert p.build_reply(0x80) == bytes.fromhex("AA AA AA 96 69 00 04 00 00 80 84")


def test_reply_repr_never_shows_data():
    reply = p.Reply(0, 0, 0x90, "110105195003070019".encode("utf-16-le"))
    assert "1101" not in repr(reply) and "len=36" in repr(reply)


@pytest.mark.parametrize(
    "sw3, error",
    [
        (0x80, p.NoCard), (0x81, p.SelectFailed), (0x41, p.ReadFailed), (0x91, p.NoContent),
        (0x10, p.DeviceChecksumError), (0x11, p.DeviceLengthError), (0x21, p.BadCommand),
        (0x23, p.NotPermitted), (0x24, p.UnknownDeviceError), (0x31, p.AuthenticationError),
        (0x32, p.AuthenticationError), (0x33, p.AuthenticationError), (0x40, p.UnknownCardType),
        (0x47, p.RandomNumberFailed), (0x60, p.SamSelfTestFailed), (0x66, p.SamNotAuthorised),
        (0x55, p.UnexpectedStatus),
    ],
)
def test_sw3_maps_to_typed_error_with_stable_code_and_both_languages(sw3, error):
    with pytest.raises(error) as info:
        p.check_reply(p.Reply(0, 0, sw3), p.SW3_OK)
    exc = info.value
    assert isinstance(exc, p.IdCardProtocolError) and exc.sw3 == sw3
    assert exc.code.startswith("IDCARD_") and exc.message_zh and exc.message_en
    assert exc.message("zh_CN") == exc.message_zh and exc.message("en") == exc.message_en


def test_errors_are_user_facing_for_the_cli_and_ui():
    from drivers.errors import UserFacingError

    exc = p.NoCard("SW3=0x80", sw3=0x80)
    assert isinstance(exc, UserFacingError) and exc.code == "IDCARD_NO_CARD"
    assert str(exc) == "[IDCARD_NO_CARD] No ID card found; place the card on the reader (SW3=0x80)"
    assert exc.message("en") == "No ID card found; place the card on the reader"


def test_sam_errors_share_a_base_for_staff_alerts():
    assert issubclass(p.SamSelfTestFailed, p.SamError) and issubclass(p.SamNotAuthorised, p.SamError)


def test_decoder_assembles_a_frame_fed_byte_by_byte():
    decoder = p.FrameDecoder()
    out = []
    for i in range(len(FOUND_REPLY)):
        out += decoder.feed(FOUND_REPLY[i : i + 1])
    assert out == [p.Reply(0, 0, 0x9F, bytes(4))]
    assert decoder.buffered == 0


def test_decoder_skips_garbage_with_partial_preambles():
    garbage = bytes.fromhex("00 13 AA AA 37 FF AA AA AA 96")
    assert p.FrameDecoder().feed(garbage + FOUND_REPLY + garbage + FOUND_REPLY) == [p.Reply(0, 0, 0x9F, bytes(4))] * 2


def test_bad_checksum_is_reported_then_next_frame_decodes():
    bad = FOUND_REPLY[:-1] + b"\x00"
    out = p.FrameDecoder().feed(bad + FOUND_REPLY)
    assert isinstance(out[0], p.FrameChecksumError)
    assert out[-1] == p.Reply(0, 0, 0x9F, bytes(4))


@pytest.mark.parametrize("length", [0, 1, 3, p.MAX_LENGTH + 1, 0xFFFF])
def test_impossible_length_is_reported_without_waiting(length):
    frame = p.PREAMBLE + length.to_bytes(2, "big") + b"\x00\x00\x90\x90"
    out = p.FrameDecoder().feed(frame + FOUND_REPLY)
    assert isinstance(out[0], p.FrameLengthError)
    assert out[-1] == p.Reply(0, 0, 0x9F, bytes(4))


def test_full_card_read_reply_round_trips():
    text, photo = bytes(range(256)), bytes(1024)
    frame = p.build_reply(0x90, p.build_card_data(text, photo))
    assert frame[5:7] == (1 + 3 + 4 + 256 + 1024).to_bytes(2, "big")  # 0x0508
    (reply,) = p.FrameDecoder().feed(frame)
    data = p.parse_card_data(reply.data)
    assert (data.text, data.photo) == (text, photo)


def test_card_data_with_fingerprint_and_truncated_data():
    data = p.build_card_data(b"t" * 256, b"p" * 1024, b"f" * 10)
    assert p.parse_card_data(data, with_fingerprint=True).fingerprint == b"f" * 10
    with pytest.raises(p.BadCardData):
        p.parse_card_data(data[:100])
    with pytest.raises(p.BadCardData):
        p.parse_card_data(b"\x01")


def test_sam_id_formats_like_vendor_tools():
    data = (5).to_bytes(2, "little") + (1).to_bytes(2, "little") + (20101112).to_bytes(4, "little") + (12345).to_bytes(4, "little") + (678).to_bytes(4, "little")
    assert p.format_sam_id(data) == "05.01-20101112-0000012345-0000000678"


def test_request_decoder_reads_what_build_request_writes():
    frames = p.build_request(0x30, 0x01) + p.build_request(0x60, 0x04, b"\x01")
    assert p.RequestDecoder().feed(frames) == [p.Request(0x30, 0x01), p.Request(0x60, 0x04, b"\x01")]


# --- hypothesis: random, mutated and chunked input --------------------------------------------

CLEAN = p.build_reply(0x90, b"\x01\x02\x03")  # data holds no preamble


def _feed_chunks(decoder: p.FrameDecoder, data: bytes, cuts: list[int]) -> list:
    out, last = [], 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        out += decoder.feed(data[last:cut])
        last = max(last, cut)
    return out


def _check_items(items: list) -> None:
    for item in items:
        assert isinstance(item, (p.Reply, p.FrameError)), item


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0, max_value=4000), max_size=20))
def test_random_bytes_give_only_replies_or_typed_errors(data, cuts):
    decoder = p.FrameDecoder()
    started = time.monotonic()
    _check_items(_feed_chunks(decoder, data, cuts))
    assert decoder.buffered <= p.MAX_LENGTH + 7
    assert time.monotonic() - started < 2.0


_preambly = st.lists(
    st.one_of(st.binary(max_size=8), st.just(p.PREAMBLE), st.just(p.PREAMBLE + b"\x00"), st.just(FOUND_REPLY)), max_size=40
).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_preambly, st.lists(st.integers(min_value=0, max_value=1000), max_size=10))
def test_preamble_heavy_input_never_breaks_decoder(data, cuts):
    decoder = p.FrameDecoder()
    _check_items(_feed_chunks(decoder, data, cuts))
    assert decoder.buffered <= p.MAX_LENGTH + 7


@st.composite
def _mutated_frames(draw):
    frame = bytearray(draw(st.sampled_from([FOUND_REPLY, CLEAN, p.build_reply(0x80), p.build_reply(0x90, bytes(300))])))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(min_value=0, max_value=max(0, len(frame) - 1)))
        if kind == "flip" and frame:
            frame[pos] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "insert":
            frame[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and frame:
            del frame[pos]
        elif kind == "truncate":
            del frame[pos:]
    return bytes(frame)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_mutated_frames(), min_size=1, max_size=5).map(b"".join), st.binary(max_size=64))
def test_decoder_resyncs_to_a_clean_frame_after_damage(damaged, garbage):
    """Whatever came before, clean frames that follow are decoded within a bounded number."""
    decoder = p.FrameDecoder()
    prefix = garbage + damaged
    _check_items(decoder.feed(prefix))
    bound = (len(prefix) + p.MAX_LENGTH + 7) // len(CLEAN) + 3
    for _ in range(bound):
        items = decoder.feed(CLEAN)
        _check_items(items)
        if p.Reply(0, 0, 0x90, b"\x01\x02\x03") in items:
            return
    pytest.fail("decoder never resynchronised")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=255), st.integers(min_value=0, max_value=255), st.binary(max_size=600), st.lists(st.integers(0, 700), max_size=8))
def test_any_well_formed_reply_decodes_exactly_under_any_chunking(sw3, cmd, data, cuts):
    frame = p.build_reply(sw3, data, sw1=cmd)
    out = _feed_chunks(p.FrameDecoder(), frame, cuts)
    assert out[-1] == p.Reply(cmd, 0, sw3, data)
