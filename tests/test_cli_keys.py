"""`evalql keys create | list | revoke` on both databases: what each prints, a workspace
that does not exist is only made when asked, and a revoked key is refused by the API at
its next request while the others keep working (real HTTP through the ASGI app)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import uuid

import httpx
import pytest

from evalql import cli
from evalql.app import create_app
from evalql.config import Settings
from evalql.db.engine import create_engine, session_factory
from evalql.db.models import ApiKey
from evalql.db.writes import create_workspace, hash_api_key
from tests import databases


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table(out: str) -> list[list[str]]:
    """`keys list` rows, split on runs of two or more spaces (cells hold single spaces)."""
    return [re.split(r" {2,}", line.strip()) for line in out.strip().splitlines()]


async def status(url: str, key: str) -> int:
    app = create_app(Settings(database_url=databases.app_url(url)))  # as the service's role
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://evalql.test") as client:
            return (await client.get("/api/v1/sessions", headers={"X-API-Key": key})).status_code


def test_create_list_and_revoke(database_url, capsys):
    url = database_url
    code, out, err = run(capsys, "keys", "create", "--database-url", url)
    assert code == 0 and out.strip().startswith("evq_") and "read-write key of workspace 'default'" in err
    default_key = out.strip()

    code, out, err = run(capsys, "keys", "create", "--database-url", url, "--workspace", "team-a", "--read-only")
    assert code == 2 and out == ""
    assert "No workspace named 'team-a'" in err and "--create-workspace" in err and "'default'" in err
    code, out, err = run(capsys, "keys", "create", "--database-url", url, "--workspace", "team-a", "--read-only",
                         "--create-workspace")
    assert code == 0 and "read-only key of workspace 'team-a'" in err
    team_key = out.strip()

    code, out, _ = run(capsys, "keys", "list", "--database-url", url)
    rows = table(out)
    assert rows[0] == ["ID", "WORKSPACE", "KEY", "SCOPE", "CREATED (UTC)", "REVOKED (UTC)"]
    assert [(r[1], r[2], r[3], r[5]) for r in rows[1:]] == [
        ("default", default_key[:10] + "…", "read-write", "-"), ("team-a", team_key[:10] + "…", "read-only", "-")]
    assert default_key not in out and team_key not in out  # never the keys themselves
    _, out, _ = run(capsys, "keys", "list", "--database-url", url, "--workspace", "team-a")
    assert [r[1] for r in table(out)[1:]] == ["team-a"]

    assert asyncio.run(status(url, team_key)) == 200
    code, _, err = run(capsys, "keys", "revoke", "--database-url", url, team_key[:10] + "…")  # as `list` prints it
    assert code == 0 and f"revoked the read-only key {team_key[:10]}…" in err and "'team-a'" in err
    assert asyncio.run(status(url, team_key)) == 401 and asyncio.run(status(url, default_key)) == 200

    _, out, _ = run(capsys, "keys", "list", "--database-url", url)
    assert [r[1] for r in table(out)[1:]] == ["default"]
    _, out, _ = run(capsys, "keys", "list", "--database-url", url, "--all")
    revoked = [r for r in table(out)[1:] if r[1] == "team-a"]
    assert len(revoked) == 1 and revoked[0][5] != "-"

    code, _, err = run(capsys, "keys", "revoke", "--database-url", url, revoked[0][0])  # by id, again
    assert code == 2 and "was revoked already" in err
    code, _, err = run(capsys, "keys", "revoke", "--database-url", url, "evq_nothing")
    assert code == 2 and "No API key has the id or prefix 'evq_nothing'" in err


def test_an_ambiguous_prefix_names_the_ids(database_url, capsys):
    ids = [uuid.uuid4(), uuid.uuid4()]

    async def two_keys_alike() -> None:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db:
                workspace = await create_workspace(db, "w")
                for i, key_id in enumerate(ids):  # two keys whose first ten characters agree
                    db.add(ApiKey(id=key_id, workspace_id=workspace.id, key_hash=hash_api_key(f"evq_same{i}"),
                                  prefix="evq_same00", read_only=False))
                await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(two_keys_alike())
    code, _, err = run(capsys, "keys", "revoke", "--database-url", database_url, "evq_same00")
    assert code == 2 and "2 API keys start with 'evq_same00'" in err and all(str(i) in err for i in ids)
    code, _, _ = run(capsys, "keys", "revoke", "--database-url", database_url, str(ids[0]))
    assert code == 0
    _, out, _ = run(capsys, "keys", "list", "--database-url", database_url)
    assert [r[0] for r in table(out)[1:]] == [str(ids[1])]


def test_an_empty_list_says_how_to_make_a_key(tmp_path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    code, out, err = run(capsys, "keys", "list", "--database-url", url)
    assert code == 0 and out == "" and "no API keys" in err and "evalql keys create" in err


@pytest.mark.parametrize("argv", [["keys"], ["keys", "revoke"]])
def test_keys_needs_a_command_and_revoke_a_key(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2


def serve_output(url: str, *, merged: bool) -> tuple[list[str], str]:
    """What `evalql serve` prints until uvicorn runs: (lines read, the rest of stdout).
    `merged`: stdout and stderr in one stream, in the order a terminal shows them."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "EVALQL_INGEST_WORKERS": "0"}
    server = subprocess.Popen([sys.executable, "-m", "evalql.cli", "serve", "--database-url", url, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                              text=True, env=env)
    stream = server.stdout if merged else server.stderr
    try:
        lines = []
        for line in stream:  # type: ignore[union-attr]
            lines.append(line)
            if "Uvicorn running" in line or len(lines) > 50:
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    rest = "" if merged else server.stdout.read()  # type: ignore[union-attr]
    return lines, rest


def test_a_first_start_prints_its_key_first(tmp_path):
    lines, _ = serve_output(f"sqlite+aiosqlite:///{tmp_path}/served.db", merged=True)
    assert lines[0].startswith("evq_") and len(lines[0].split()) == 1, lines
    key = lines[0].strip()
    assert "shown once" in lines[1] and key in lines[2]
    said = "".join(lines)
    assert "comparison page at http://127.0.0.1:" in said and "/docs)" in said


def test_a_later_start_says_how_to_get_a_key(tmp_path, capsys):
    """The first start prints the default workspace's key; a later one, which has none to
    print, says where keys come from."""
    url = f"sqlite+aiosqlite:///{tmp_path}/served.db"
    assert run(capsys, "keys", "create", "--database-url", url)[0] == 0  # the default workspace exists now
    lines, stdout = serve_output(url, merged=False)
    said = "".join(lines)
    assert "`evalql keys create` makes another" in said and "`evalql keys list`" in said, said
    assert "evq_" not in stdout
