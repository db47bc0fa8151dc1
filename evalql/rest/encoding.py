"""Request bodies under `Content-Encoding: identity | gzip | zstd` (spec §1.3).

The limit applies to the decompressed size and is enforced while decompressing, in
bounded steps, so a small compressed bomb is refused after at most `limit` bytes of
output instead of exhausting memory.
"""

from __future__ import annotations

import io
import zlib

import zstandard
from starlette.requests import Request

from evalql.body_limits import content_encoding_of
from evalql.rest.body import MAX_BODY_BYTES, read_body
from evalql.rest.errors import ApiError

STEP = 1 << 20  # decompressed bytes produced per step
FRAMING_ALLOWANCE = 1 << 16


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"Request body exceeds {limit} bytes")


def not_decodable(encoding: str, reason: str) -> ApiError:
    return ApiError(422, [{"loc": ["body"], "msg": f"The body is not valid {encoding} data "
                           f"(Content-Encoding: {encoding}): {reason}", "type": "value_error"}])


GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Every member of the body (RFC 1952 §2.2 allows several, as `gzip.decompress` does),
    each checked against its CRC and length trailer; anything else after a member is refused
    rather than silently dropped."""
    out: list[bytes] = []
    size, pending = 0, raw
    while True:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            # Input can be all consumed while output is still buffered, so loop until the
            # member ends or a call makes no progress (a truncated stream).
            while not decoder.eof:
                chunk = decoder.decompress(pending, STEP)
                pending = decoder.unconsumed_tail
                if not chunk and not pending:
                    break
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                out.append(chunk)
        except zlib.error as exc:
            raise not_decodable("gzip", str(exc)) from None
        if not decoder.eof:
            raise not_decodable("gzip", "the stream is truncated")
        pending = decoder.unused_data
        if not pending:
            return b"".join(out)
        if not pending.startswith(GZIP_MAGIC):
            raise not_decodable("gzip", f"{len(pending)} bytes follow the end of the gzip stream")


def _unzstd(raw: bytes, limit: int) -> bytes:
    """Two passes: a bounded streaming read that only measures (so a bomb stops at the
    limit), then the frames themselves, whose `eof` tells a truncated body, which the
    streaming reader would silently cut short."""
    size = 0
    out = []
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True) as reader:
            while chunk := reader.read(STEP):
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
        rest = raw
        while rest:
            frame = zstandard.ZstdDecompressor().decompressobj()
            out.append(frame.decompress(rest))
            if not frame.eof:
                raise not_decodable("zstd", "the stream is truncated")
            rest = frame.unused_data
    except zstandard.ZstdError as exc:
        raise not_decodable("zstd", str(exc)) from None
    return b"".join(out)


DECODERS = {"gzip": _gunzip, "x-gzip": _gunzip, "zstd": _unzstd}


def content_encoding(request: Request) -> str:
    """The body's encoding, refusing (415) the ones evalql cannot decode."""
    encoding = content_encoding_of(request.headers)
    if encoding not in ("identity", *DECODERS):
        raise ApiError(415, f"Unsupported Content-Encoding: {request.headers.get('content-encoding')}")
    return encoding


async def read_decoded_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    encoding = content_encoding(request)
    decode = DECODERS.get(encoding)
    # A compressed body is never larger than what it decompresses to by more than its
    # framing, so (nearly) the same bound caps what is read off the wire.
    raw = await read_body(request, limit if decode is None else limit + FRAMING_ALLOWANCE)
    return raw if decode is None else decode(raw, limit)
