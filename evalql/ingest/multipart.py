"""`multipart/form-data` bodies of `POST /runs/multipart` (spec §7.5.4), parsed by
python-multipart into named parts; the part names are interpreted in `wire.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header

from evalql.core.problems import InvalidInput

if TYPE_CHECKING:  # the library declares its callback types for type checkers only
    from python_multipart.multipart import MultipartCallbacks



@dataclass
class Part:
    name: str
    content_type: str
    data: bytes
    declared_length: int | None


@dataclass
class _Collector:
    """python-multipart callbacks, accumulating parts and their headers."""

    parts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    header_field: bytes = b""
    header_value: bytes = b""
    ended: bool = False

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.part_begin, "on_part_data": self.part_data, "on_part_end": self.part_end,
            "on_header_field": self.field_data, "on_header_value": self.value_data,
            "on_header_end": self.header_end, "on_end": self.end,
        }

    def part_begin(self) -> None:
        self.headers, self.chunks = {}, []

    def part_data(self, data: bytes, start: int, end: int) -> None:
        self.chunks.append(data[start:end])

    def part_end(self) -> None:
        self.parts.append((self.headers, b"".join(self.chunks)))

    def field_data(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_field.decode("latin-1").strip().lower()] = self.header_value.decode("latin-1").strip()
        self.header_field, self.header_value = b"", b""

    def end(self) -> None:
        self.ended = True


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
    collector = _Collector()
    # Part headers are few and short (name, type, length); these caps stop header floods.
    parser = MultipartParser(boundary_of(content_type), collector.callbacks(), max_header_count=16,
                             max_header_size=16_384)
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise malformed(f"Malformed multipart body: {exc}") from None
    if not collector.ended:
        raise malformed("Malformed multipart body: it ends before the closing boundary")
    return [_part(headers, data) for headers, data in collector.parts]


def _part(headers: dict[str, str], data: bytes) -> Part:
    disposition, options = parse_options_header(headers.get("content-disposition", ""))
    name = options.get(b"name")
    if disposition != b"form-data" or name is None:
        raise malformed("Every part needs a `Content-Disposition: form-data; name=...` header")
    part_name = name.decode("utf-8", "replace")
    declared = headers.get("content-length")
    length = None
    if declared is not None:
        if not declared.isdigit():
            raise malformed(f"Content-Length {declared!r} is not a byte count", [part_name])
        length = int(declared)
        if length != len(data):
            raise malformed(f"Content-Length {length} does not match the part's {len(data)} bytes", [part_name])
    return Part(part_name, headers.get("content-type", "application/octet-stream"), data, length)


__all__ = ["Part", "malformed", "parse_parts"]
