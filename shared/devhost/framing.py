"""Reading one request off a connection within bounds (RFC 9112).

One deadline covers the whole request, head and body: a client that drips a byte at a time
cannot hold a thread for longer than that. The body is framed strictly, by one Content-Length
of plain digits or by chunked as the last and only transfer coding; anything else is refused
before a byte of it is buffered, and nothing is buffered past the limit.
"""

from __future__ import annotations

import io
import re
import socket
import time
from email.message import Message
from typing import Protocol

# Azure Functions: "the URL length is limited to 4 KB (4,096 bytes)" (HTTP trigger limits).
MAX_TARGET_BYTES = 4096
MAX_REQUEST_LINE = 65536  # read this much of a request line before answering 414

_LINE = 1024  # a chunk-size line (extensions included) or one trailer line
_TRAILER_BYTES = 8192
# Chunk sizes past 16 hex digits (64 bits) are malformed, not merely large: no sender means them.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[\t\x20-\x7e]*)?\r\n")
_LENGTH = re.compile(r"[0-9]+")


class BodyTooLarge(Exception):
    pass


class BadBody(Exception):
    pass


class UnsupportedCoding(BadBody):
    """A transfer coding other than chunked: RFC 9112 6.1 answers 501."""


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


class DeadlineReader(io.BufferedIOBase):
    """The connection's buffered reader under one deadline. Before each read from the socket
    its timeout is set to the time left, so no sequence of reads outlasts the deadline."""

    def __init__(self, buffered: io.BufferedReader, connection: socket.socket, seconds: float):
        super().__init__()
        self._buffered = buffered
        self._connection = connection
        self._deadline = time.monotonic() + seconds
        self.received = 0  # bytes taken so far: 0 means the client has not begun a request

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            raise ValueError("a request is never read to the end of the connection")
        out = bytearray()
        while len(out) < size:
            self._arm()
            piece = self._buffered.read1(size - len(out))
            if not piece:
                break
            out += piece
            self.received += len(piece)
        return bytes(out)

    def readline(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            raise ValueError("a line is always read with a bound")
        out = bytearray()
        while len(out) < size:
            self._arm()
            buffered = self._buffered.peek(1)[: size - len(out)]  # at most one socket read
            if not buffered:
                break
            end = buffered.find(b"\n")
            piece = self._buffered.read(len(buffered) if end < 0 else end + 1)
            out += piece
            self.received += len(piece)
            if end >= 0:
                break
        return bytes(out)

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._connection.settimeout(left)


def read_body(stream: Readable, headers: Message, limit: int) -> bytes:
    """The request body, refused (BodyTooLarge) as soon as it is known to exceed ``limit``;
    BadBody for framing that is ambiguous or malformed."""
    codings = [
        coding.strip().lower()
        for value in headers.get_all("Transfer-Encoding") or []
        for coding in value.split(",")
    ]
    lengths = headers.get_all("Content-Length") or []
    if codings and lengths:  # RFC 9112 6.3: a sign of request smuggling
        raise BadBody("a request carries both Transfer-Encoding and Content-Length")
    if codings:
        if codings[-1] != "chunked" or codings.count("chunked") > 1 or "" in codings:
            raise BadBody("chunked must be the last transfer coding, once")
        if len(codings) > 1:
            raise UnsupportedCoding("only the chunked transfer coding is understood")
        return _read_chunked(stream, limit)
    if not lengths:
        return b""
    if len(lengths) > 1:
        raise BadBody("a request carries more than one Content-Length")
    text = lengths[0].strip()
    if not _LENGTH.fullmatch(text):  # int() would also take "+5", "1_0" and other digits
        raise BadBody("Content-Length is not a decimal number")
    digits = text.lstrip("0")
    if len(digits) > len(str(limit)) or int(digits or "0") > limit:
        raise BodyTooLarge
    length = int(digits or "0")
    body = stream.read(length)
    if len(body) != length:
        raise BadBody("the body is shorter than its Content-Length")
    return body


def _read_chunked(stream: Readable, limit: int) -> bytes:
    body = bytearray()
    wire = 0  # framing counts too: a million 1-byte chunks with long extensions is refused
    while True:
        line = _line(stream, "a chunk size")
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise BadBody("a chunk size is not 1 to 16 hex digits ended by CRLF")
        size = int(match.group(1), 16)
        wire += len(line) + size + 2
        if len(body) + size > limit or wire > 2 * limit:
            raise BodyTooLarge
        if size == 0:
            break
        data = stream.read(size)
        if len(data) != size:
            raise BadBody("the body ended inside a chunk")
        body += data
        if stream.read(2) != b"\r\n":
            raise BadBody("a chunk is not followed by CRLF")
    trailers = 0
    while (line := _line(stream, "a trailer")) != b"\r\n":
        trailers += len(line)
        if trailers > _TRAILER_BYTES:
            raise BadBody(f"the trailers are over {_TRAILER_BYTES} bytes")
    return bytes(body)


def _line(stream: Readable, what: str) -> bytes:
    line = stream.readline(_LINE)
    if not line.endswith(b"\r\n"):
        raise BadBody(f"{what} line is not ended by CRLF within {_LINE} bytes")
    return line
