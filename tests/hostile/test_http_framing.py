"""Request bodies: every limit holds for every framing (issue 12, section 3).

Over raw sockets into the real local host: Content-Length must be one run of digits, chunked
must be the last and only transfer coding with strict chunk lines, a request with both is
refused (request smuggling), and nothing is buffered past the 1 MiB limit. Then read_body
itself: the bytes it asks the connection for are bounded whatever arrives, and any chunking
of any body reads back as that body (hypothesis).
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator
from email.message import Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.devhost.framing import BadBody, BodyTooLarge, read_body
from shared.devhost.messages import MAX_BODY_BYTES
from shared.devhost.server import HostServer
from tests.hostile.rawhttp import Answer, exchange, head, is_json_error, running_host

SHA = hashlib.sha256(b'{"a":1}').hexdigest()


@pytest.fixture(scope="module")
def server() -> Iterator[HostServer]:
    with running_host(request_timeout=20) as running:  # the timing is test_http_requests.py's
        yield running


def post(server: HostServer, headers: list[str], body: bytes, close: bool = True) -> Answer:
    return exchange(server, head("POST", "/api/echo", *headers) + body, close=close)


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (["Content-Length: 7"], b'{"a":1}'),
        (["Content-Length: 007"], b'{"a":1}'),
        (["Transfer-Encoding: chunked"], chunked(b'{"a"', b":1}")),
        (["Transfer-Encoding: Chunked"], b'7;name=value\r\n{"a":1}\r\n0\r\nX-T: 1\r\n\r\n'),
    ],
    ids=["length", "leading-zeros", "chunked", "extension-and-trailer"],
)
def test_a_well_framed_body_reaches_the_function_whole(
    server: HostServer, framing: list[str], body: bytes
) -> None:
    answer = post(server, framing, body)
    assert (answer.status, answer.json()) == (201, {"length": 7, "sha256": SHA})


CONTENT_LENGTHS = {
    "plus-sign": (["Content-Length: +7"], 400),
    "underscore": (["Content-Length: 0_7"], 400),
    "hex": (["Content-Length: 0x7"], 400),
    "fraction": (["Content-Length: 7.0"], 400),
    "negative": (["Content-Length: -7"], 400),
    "empty": (["Content-Length: "], 400),
    "list": (["Content-Length: 7, 7"], 400),
    "twice-same": (["Content-Length: 7", "Content-Length: 7"], 400),
    "twice-different": (["Content-Length: 7", "Content-Length: 2"], 400),
    "arabic-digit": (["Content-Length: \xd9\xa7"], 400),  # U+0667 ARABIC-INDIC SEVEN, as UTF-8
    "huge": (["Content-Length: " + "9" * 30], 413),
    "over-int-digits": (["Content-Length: " + "9" * 5000], 413),
    "one-over": ([f"Content-Length: {MAX_BODY_BYTES + 1}"], 413),
}


@pytest.mark.parametrize("case", sorted(CONTENT_LENGTHS))
def test_a_content_length_that_is_not_plain_digits_is_refused(
    server: HostServer, case: str
) -> None:
    headers, status = CONTENT_LENGTHS[case]
    answer = post(server, headers, b'{"a":1}')
    assert answer.status == status
    assert is_json_error(answer)


TRANSFER_ENCODINGS = {
    "with-content-length": (["Transfer-Encoding: chunked", "Content-Length: 5"], 400),
    "content-length-first": (["Content-Length: 5", "Transfer-Encoding: chunked"], 400),
    "not-last": (["Transfer-Encoding: chunked, gzip"], 400),
    "gzip-only": (["Transfer-Encoding: gzip"], 400),
    "identity": (["Transfer-Encoding: identity"], 400),
    "twice": (["Transfer-Encoding: chunked, chunked"], 400),
    "two-headers": (["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], 400),
    "trailing-comma": (["Transfer-Encoding: chunked,"], 400),
    "unknown-coding-first": (["Transfer-Encoding: gzip, chunked"], 501),
}


@pytest.mark.parametrize("case", sorted(TRANSFER_ENCODINGS))
def test_an_ambiguous_or_unknown_transfer_encoding_is_refused(
    server: HostServer, case: str
) -> None:
    headers, status = TRANSFER_ENCODINGS[case]
    answer = post(server, headers, chunked(b"{}"))
    assert answer.status == status
    assert is_json_error(answer)


CHUNKS = {
    "negative": b"-1\r\n" + b"x" * 65536,
    "negative-zero": b"-0\r\n\r\n",
    "plus": b"+2\r\n{}\r\n0\r\n\r\n",
    "hex-prefix": b"0x2\r\n{}\r\n0\r\n\r\n",
    "underscore": b"0_2\r\n{}\r\n0\r\n\r\n",
    "leading-space": b" 2\r\n{}\r\n0\r\n\r\n",
    "not-hex": b"zz\r\n{}\r\n0\r\n\r\n",
    "empty-size": b"\r\n{}\r\n0\r\n\r\n",
    "unicode-digit": "\u0662\r\n{}\r\n0\r\n\r\n".encode(),
    "seventeen-digits": b"0" * 16 + b"2\r\n{}\r\n0\r\n\r\n",
    "zeros-past-a-line": b"0" * 1100 + b"2\r\n{}\r\n0\r\n\r\n",
    "huge-hex": b"f" * 40 + b"\r\n{}\r\n0\r\n\r\n",
    "control-in-extension": b"2;\x01\r\n{}\r\n0\r\n\r\n",
    "bare-lf": b"2\n{}\n0\n\n",
    "no-crlf-after-data": b"2\r\n{}XX\r\n0\r\n\r\n",
    "longer-than-declared": b"2\r\n{}}\r\n0\r\n\r\n",
    "ends-inside-a-chunk": b"10\r\n{}",
    "no-last-chunk": b"2\r\n{}\r\n",
    "no-final-crlf": b"2\r\n{}\r\n0\r\n",
    "long-trailer": chunked(b"{}")[:-2] + b"X-Pad: " + b"p" * 2000 + b"\r\n\r\n",
    "endless-trailers": chunked(b"{}")[:-2] + b"X: y\r\n" * 2000,
}


@pytest.mark.parametrize("case", sorted(CHUNKS))
def test_a_malformed_chunk_is_a_400(server: HostServer, case: str) -> None:
    answer = post(server, ["Transfer-Encoding: chunked"], CHUNKS[case])
    assert answer.status == 400
    assert is_json_error(answer)


@pytest.mark.parametrize(
    "body",
    [
        b"ffffffffffffffff\r\n" + b"x" * 1000,  # 16 hex digits: well formed, far too large
        b"100001\r\n" + b"x" * 1000,  # one chunk of 1 MiB + 1
        chunked(*[b"x" * 65536] * 17),  # many chunks that add up past 1 MiB
        chunked(*[b"x"] * 400_000),  # framing alone: 6 bytes on the wire per byte of body
    ],
    ids=["max-hex", "one-chunk", "many-chunks", "tiny-chunks"],
)
def test_a_chunked_body_past_the_limit_is_a_413(server: HostServer, body: bytes) -> None:
    answer = post(server, ["Transfer-Encoding: chunked"], body)
    assert answer.status == 413
    assert is_json_error(answer)


class CountingStream:
    """The connection as read_body sees it, counting what it is asked to hand over."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.handed = 0

    def read(self, size: int, /) -> bytes:
        assert size >= 0, "read_body must never read to the end of the connection"
        piece = self._data.read(size)
        self.handed += len(piece)
        return piece

    def readline(self, size: int, /) -> bytes:
        assert size >= 0
        piece = self._data.readline(size)
        self.handed += len(piece)
        return piece


def headers(*pairs: tuple[str, str]) -> Message:
    message = Message()
    for name, value in pairs:
        message[name] = value
    return message


LIMIT = 4096
TE = ("Transfer-Encoding", "chunked")


@pytest.mark.parametrize(
    "data",
    [
        b"-1\r\n" + b"x" * (LIMIT * 50),
        b"fff\r\n" + b"x" * (LIMIT * 50),
        b"1000\r\n" + b"x" * LIMIT + b"\r\n1\r\n" + b"x" * (LIMIT * 50),
        b"x" * (LIMIT * 50),  # a size line that never ends
        chunked(b"x" * 10)[:-2] + b"T: v\r\n" * 5000,
    ],
    ids=["negative", "over-in-one", "over-in-two", "endless-line", "endless-trailers"],
)
def test_read_body_asks_for_nothing_past_the_limit(data: bytes) -> None:
    stream = CountingStream(data)
    with pytest.raises((BadBody, BodyTooLarge)):
        read_body(stream, headers(TE), LIMIT)
    assert stream.handed <= LIMIT + 10 * 1024  # the body, one size line and the trailers' cap


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=20))
def test_any_chunking_of_any_body_reads_back_as_that_body(body: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(body), *(c for c in cuts if c <= len(body))})
    pieces = [body[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    stream = CountingStream(chunked(*pieces) + b"next request")
    assert read_body(stream, headers(TE), LIMIT) == body
    assert stream.handed == len(chunked(*pieces))  # and not a byte of what follows


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), length=st.text(max_size=12), te=st.booleans())
def test_arbitrary_bytes_only_ever_give_a_body_or_a_refusal(
    data: bytes, length: str, te: bool
) -> None:
    framing = headers(TE) if te else headers(("Content-Length", length))
    stream = CountingStream(data)
    try:
        body = read_body(stream, framing, LIMIT)
    except (BadBody, BodyTooLarge):
        return
    assert len(body) <= LIMIT
    assert stream.handed <= len(data)
