"""`multipart/form-data` bodies of `POST /runs/multipart` (spec §7.5.4), split into named
parts; the part names are interpreted in `wire.py`.

The body is in memory whole (read and decompressed under the body limit), so it is split
on its boundary delimiter (RFC 2046 §5.1.1, RFC 7578) with `bytes.find`, which runs in C.
A streaming parser fed the whole body at once buys nothing here, and python-multipart's
walks every byte of the part headers in Python: the SDK sends about ten parts per run,
and that walk was the largest single cost of an ingest request. Its header-option parser
still reads the Content-Type and any Content-Disposition that is not the plain form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from python_multipart.multipart import parse_options_header

from evalql.core.problems import InvalidInput

# Part headers are few and short (disposition, type, length); these caps stop header floods.
MAX_HEADER_COUNT = 16
MAX_HEADER_SIZE = 16_384
CRLF = b"\r\n"
# `form-data; name="…"` without escapes, as the SDK writes it: read without the general parser.
PLAIN_DISPOSITION = re.compile(rb'form-data; ?name="([^"\\]*)"')
# The whole header block of a part as the SDK writes it, read by one match.
SDK_HEADERS = re.compile(rb'Content-Disposition: form-data; name="([^"\\]*)"\r\n'
                         rb'Content-Type: ([^\r\n]*)\r\nContent-Length: ([0-9]{1,18})')
# What follows a delimiter when a part is written so: the line break, the header block and the
# blank line, then the data of the Content-Length given.
SDK_PART_HEAD = re.compile(rb"\r\n" + SDK_HEADERS.pattern + rb"\r\n\r\n")


@dataclass(slots=True)
class Part:
    name: str
    content_type: str
    data: bytes
    declared_length: int | None


def malformed(msg: str, loc: list[str] | None = None) -> InvalidInput:
    return InvalidInput([{"loc": ["body", *(loc or [])], "msg": msg, "type": "value_error"}])


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise malformed(f"Content-Type must be multipart/form-data with a boundary, not {content_type!r}")
    boundary = options.get(b"boundary")
    if not boundary:
        raise malformed("The multipart Content-Type has no boundary parameter")
    return boundary


def parse_parts(body: bytes, content_type: str | None) -> list[Part]:
    delimiter = b"--" + boundary_of(content_type)
    separator = CRLF + delimiter  # a delimiter starts a line: the CRLF before it is not part data
    position = 0
    while body.startswith(CRLF, position):  # leading blank lines are tolerated
        position += 2
    if not body.startswith(delimiter, position):
        raise malformed("Malformed multipart body: it does not start with the boundary")
    position += len(delimiter)
    parts = []
    while not body.startswith(b"--", position):  # `--` after a delimiter closes the body
        found = _sdk_part(body, position, separator)
        if found is not None:
            part, position = found
            parts.append(part)
            continue
        line_end = body.find(CRLF, position)
        if line_end == -1:
            raise malformed("Malformed multipart body: it ends before the closing boundary")
        if body[position:line_end].strip(b" \t"):  # only transport padding may follow a delimiter
            raise malformed("Malformed multipart body: a boundary delimiter is followed by data on its line")
        headers_end = body.find(b"\r\n\r\n", line_end)
        if headers_end == -1:
            raise malformed("Malformed multipart body: it ends inside the headers of a part")
        data_start = headers_end + 4
        data_end = _delimiter(body, separator, data_start)
        parts.append(_part(body[line_end + 2:headers_end] if headers_end > line_end else b"",
                           body[data_start:data_end]))
        position = data_end + len(separator)
    return parts


def _sdk_part(body: bytes, position: int, separator: bytes) -> tuple[Part, int] | None:
    """The part that starts at `position` (just after its delimiter) and where the next one
    starts, when it has the SDK's headers and its Content-Length ends it at the next
    delimiter, with no delimiter inside its data: the reading the general path would make,
    without searching for the end. Anything else (None) is read by the general path."""
    found = SDK_PART_HEAD.match(body, position)
    if found is None:
        return None
    start = found.end()
    end = start + int(found.group(3))
    after = end + len(separator)
    if not (body.startswith(separator, end) and (body.startswith(b"--", after) or body.startswith(CRLF, after))
            and body.find(separator, start, end) == -1):
        return None
    return _sdk_headed(found, body[start:end]), after


def _sdk_headed(headers: re.Match[bytes], data: bytes) -> Part:
    """The part of SDK-shaped headers (SDK_HEADERS' groups: name, type, length)."""
    return Part(headers.group(1).decode("utf-8", "replace"), headers.group(2).strip(b" \t").decode("latin-1"), data,
                len(data))


def _delimiter(body: bytes, separator: bytes, start: int) -> int:
    """Where the part data that starts at `start` ends: at a CRLF and the boundary delimiter,
    followed by `--` (the close) or by padding and a line break. A line that only begins with
    the delimiter (`--boundaryX`) is data."""
    found = body.find(separator, start)
    while found != -1:
        after = found + len(separator)
        if body.startswith(b"--", after):
            return found
        line_end = body.find(CRLF, after)
        if line_end != -1 and not body[after:line_end].strip(b" \t"):
            return found
        found = body.find(separator, found + 1)
    raise malformed("Malformed multipart body: it ends before the closing boundary")


def _headers(block: bytes) -> dict[str, bytes]:
    lines = block.split(CRLF) if block else []
    if len(lines) > MAX_HEADER_COUNT:
        raise malformed(f"Malformed multipart body: a part has more than {MAX_HEADER_COUNT} headers")
    headers = {}
    for line in lines:
        if len(line) > MAX_HEADER_SIZE:
            raise malformed(f"Malformed multipart body: a part header is longer than {MAX_HEADER_SIZE} bytes")
        name, colon, value = line.partition(b":")
        if not colon:
            raise malformed(f"Malformed multipart body: a part header line has no ':' ({line[:80]!r})")
        headers[name.strip().decode("latin-1").lower()] = value.strip(b" \t")
    return headers


def _name(disposition: bytes) -> str | None:
    plain = PLAIN_DISPOSITION.fullmatch(disposition)
    if plain is not None:
        name: bytes | None = plain.group(1)
    else:
        kind, options = parse_options_header(disposition.decode("latin-1"))
        name = options.get(b"name") if kind == b"form-data" else None
    return None if name is None else name.decode("utf-8", "replace")


def _part(header_block: bytes, data: bytes) -> Part:
    sdk = SDK_HEADERS.fullmatch(header_block)
    if sdk is not None and int(sdk.group(3)) == len(data):
        return _sdk_headed(sdk, data)
    headers = _headers(header_block)
    part_name = _name(headers.get("content-disposition", b""))
    if part_name is None:
        raise malformed("Every part needs a `Content-Disposition: form-data; name=...` header")
    declared = headers.get("content-length")
    length = None
    if declared is not None:
        if not declared.isdigit():
            raise malformed(f"Content-Length {declared.decode('latin-1')!r} is not a byte count", [part_name])
        length = int(declared)
        if length != len(data):
            raise malformed(f"Content-Length {length} does not match the part's {len(data)} bytes", [part_name])
    content_type = headers.get("content-type")
    return Part(part_name, "application/octet-stream" if content_type is None else content_type.decode("latin-1"),
                data, length)


__all__ = ["Part", "malformed", "parse_parts"]
