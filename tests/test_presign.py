"""Presigned attachment URLs (spec §7.5.4): the URL in `s3_urls` downloads the bytes with
no API key, as the SDK fetches it; a changed signature, run, name or workspace, or an
expired URL, is refused (403); the real SDK's `read_run` reads the attachment back."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from evalql.db.tenant import Tenant
from evalql.rest.presign import EXPIRY_STEP_SECONDS, URL_LIFETIME_SECONDS, Signer, verified
from tests.test_ingest_multipart import body_of, part, send
from tests.test_ingest_runs import new_id, post
from tests.test_langsmith_sdk import ServerThread

langsmith = pytest.importorskip("langsmith")

PNG = b"\x89PNG\r\n\x1a\n fake image"


async def url_of(api, run_id: str, name: str = "image") -> str:
    run = (await api.client.get(f"/runs/{run_id}", headers=api.headers())).json()
    return run["s3_urls"][f"attachment.{name}"]["presigned_url"]


@pytest.fixture
async def attached(api) -> str:
    run_id = new_id()
    response = await send(api, body_of(part(f"post.{run_id}", post(run_id)),
                                       part(f"attachment.{run_id}.image", PNG, "image/png")))
    assert response.status_code == 202
    return run_id


async def test_presigned_url_needs_no_key(api, attached):
    url = await url_of(api, attached)
    response = await api.client.get(url)  # no X-API-Key
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["content-type"] == "image/png"


async def test_tampered_urls_are_refused(api, attached):
    url = await url_of(api, attached)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    other_run = new_id()
    variants = [
        (parts.path, {**query, "signature": "0" * 64}),
        (parts.path.replace(attached, other_run), query),
        (parts.path.replace("/image", "/other"), query),
        (parts.path, {**query, "tenant": str(uuid.uuid4())}),
        (parts.path, {**query, "expires": str(int(query["expires"]) + 3600)}),
    ]
    for path, params in variants:
        response = await api.client.get(path, params=params)
        assert response.status_code == 403, (path, params, response.text)
        assert response.json() == {"detail": "The attachment URL's signature is invalid or has expired"}
    response = await api.client.get(parts.path, params={**query, "expires": "soon"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "expires"]


def test_expiry_and_signature_rules():
    workspace, run = uuid.uuid4(), uuid.uuid4()
    tenant = Tenant(workspace, True, None)  # type: ignore[arg-type]
    now = 1_700_000_123
    signer = Signer("http://h", tenant, "k" * 64, now=now)
    assert signer.expires % EXPIRY_STEP_SECONDS == 0
    assert URL_LIFETIME_SECONDS <= signer.expires - now < URL_LIFETIME_SECONDS + EXPIRY_STEP_SECONDS
    query = parse_qs(urlsplit(signer.url(run, "a b")).query)
    signature = query["signature"][0]
    assert verified("k" * 64, workspace, run, "a b", signer.expires, signature, now=now)
    assert not verified("k" * 64, workspace, run, "a b", signer.expires, signature, now=signer.expires + 1)
    assert not verified("x" * 64, workspace, run, "a b", signer.expires, signature, now=now)
    assert not verified(None, workspace, run, "a b", signer.expires, signature, now=now)


def read_with_sdk(url: str, key: str, run_id: str) -> bytes:
    client = langsmith.Client(api_url=url, api_key=key, auto_batch_tracing=False)
    run = client.read_run(run_id)
    return run.attachments["image"]["reader"].read()


@pytest.mark.backends("sqlite")
async def test_sdk_reads_the_attachment(api, attached, database_url, monkeypatch):
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with ServerThread(database_url) as url:
        assert await asyncio.to_thread(read_with_sdk, url, api.key, attached) == PNG
