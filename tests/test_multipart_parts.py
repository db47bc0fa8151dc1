"""The multipart splitter (evalql/ingest/multipart.py) on its own: the SDK's header form, the
general header form, and bodies it must refuse. No database."""

from __future__ import annotations

import pytest

from evalql.core.problems import InvalidInput
from evalql.ingest.multipart import parse_parts

CT = "multipart/form-data; boundary=b0"


def body(*parts: bytes, close: bytes = b"--b0--\r\n") -> bytes:
    return b"".join(b"--b0\r\n" + p + b"\r\n" for p in parts) + close


def test_sdk_headers_and_general_headers_give_the_same_parts():
    sdk = b'Content-Disposition: form-data; name="post.1"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'
    other = (b'content-length: 2\r\nCONTENT-TYPE:  text/plain; charset=utf-8 \r\n'
             b'Content-Disposition: form-data; name="a \\"quoted\\" name"\r\n\r\nhi')
    bare = b'Content-Disposition: form-data; name="bare"\r\n\r\n'
    parts = parse_parts(body(sdk, other, bare), CT)
    assert [(p.name, p.content_type, p.data, p.declared_length) for p in parts] == [
        ("post.1", "application/json", b"{}", 2),
        ('a "quoted" name', "text/plain; charset=utf-8", b"hi", 2),
        ("bare", "application/octet-stream", b"", None),
    ]


def test_part_data_may_hold_line_breaks_and_boundary_lookalikes():
    data = b"line\r\n--b0x not a delimiter\r\n-- b0\r\n"
    part = b'Content-Disposition: form-data; name="x"\r\n\r\n' + data
    [found] = parse_parts(b"\r\n" + body(part, close=b"--b0--\r\nan epilogue is ignored"), CT)
    assert found.data == data


def test_empty_body_has_no_parts():
    assert parse_parts(b"--b0--\r\n", CT) == []


@pytest.mark.parametrize("raw, fragment", [
    (b"no boundary here", "does not start with the boundary"),
    (b'--b0\r\nContent-Disposition: form-data; name="x"\r\n\r\n{}', "ends before the closing boundary"),
    (b'--b0\r\nContent-Disposition: form-data; name="x"', "ends inside the headers"),
    (b"--b0 junk\r\n\r\n\r\n--b0--", "followed by data"),
    (b'--b0\r\nContent-Disposition form-data\r\n\r\nx\r\n--b0--', "has no ':'"),
    (b'--b0\r\nContent-Type: text/plain\r\n\r\nx\r\n--b0--', "Content-Disposition"),
    (b'--b0\r\nContent-Disposition: attachment; name="x"\r\n\r\nx\r\n--b0--', "Content-Disposition"),
    (b'--b0\r\nContent-Disposition: form-data; name="x"\r\nContent-Length: 5\r\n\r\nx\r\n--b0--', "does not match"),
    (b'--b0\r\nContent-Disposition: form-data; name="x"\r\nContent-Length: -1\r\n\r\nx\r\n--b0--', "byte count"),
    (b"--b0\r\n" + b"X-A: 1\r\n" * 17 + b'Content-Disposition: form-data; name="x"\r\n\r\nx\r\n--b0--', "headers"),
    (b'--b0\r\nX-Long: ' + b"a" * 16_400 + b'\r\nContent-Disposition: form-data; name="x"\r\n\r\nx\r\n--b0--',
     "longer than"),
])
def test_malformed_bodies_are_refused(raw, fragment):
    with pytest.raises(InvalidInput) as error:
        parse_parts(raw, CT)
    [found] = error.value.problems
    assert found["loc"][0] == "body" and fragment in found["msg"], found


@pytest.mark.parametrize("content_type", [None, "application/json", "multipart/form-data"])
def test_content_type_needs_a_boundary(content_type):
    with pytest.raises(InvalidInput):
        parse_parts(b"--b0--\r\n", content_type)


def sdk(name: str, data: bytes, length: int | None = None) -> bytes:
    return (f'Content-Disposition: form-data; name="{name}"\r\nContent-Type: application/json\r\n'
            f"Content-Length: {len(data) if length is None else length}\r\n\r\n").encode() + data


# SDK-shaped parts the direct read takes, and the odd ones it must leave to the general path:
# a Content-Length that is too short or too long, data holding a delimiter, padding after a
# delimiter, an epilogue, a lookalike line.
ODD_BODIES = [
    body(sdk("a", b"{}"), sdk("b", b'{"x": 1}'), sdk("c", b"")),
    body(sdk("a", b"{}", length=1)),
    body(sdk("a", b"{}", length=9)),
    body(sdk("a", b"x\r\n--b0\r\ny"), sdk("b", b"{}")),
    body(sdk("a", b"x\r\n--b0--\r\n")),
    body(sdk("a", b"x\r\n--b0x\r\n"), close=b"--b0--\r\nepilogue"),
    b"--b0  \r\n" + sdk("a", b"{}") + b"\r\n--b0 \t\r\n" + sdk("b", b"[]") + b"\r\n--b0--",
    body(sdk("a", b"{}")) [:-4],
    body(sdk("a", b"{}"), sdk("a.b", "é".encode(), length=2)),
]


@pytest.mark.parametrize("raw", ODD_BODIES)
def test_direct_read_of_sdk_parts_answers_as_the_general_path(raw, monkeypatch):
    from evalql.ingest import multipart

    def outcome() -> object:
        try:
            return [(p.name, p.content_type, p.data, p.declared_length) for p in parse_parts(raw, CT)]
        except InvalidInput as error:
            return error.problems

    direct = outcome()
    taken = []
    real = multipart._sdk_part
    monkeypatch.setattr(multipart, "_sdk_part", lambda *args: taken.append(real(*args)))  # records, reads nothing
    assert outcome() == direct
    if raw is ODD_BODIES[0]:
        assert all(found is not None for found in taken) and len(taken) == 3
