"""The real LangSmith SDK against the server on a free local port (spec §7.1–§7.3):
create_dataset, create_examples, list_examples, read_dataset."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time

import pytest
import uvicorn

from evalql.app import create_app
from evalql.config import Settings
from tests import databases

langsmith = pytest.importorskip("langsmith")


def bound_socket() -> socket.socket:
    """A socket bound to a free local port and kept open until uvicorn serves on it: probing a
    free port, closing it and letting uvicorn bind it again could lose it to another process
    (another xdist worker's server) in between."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class ServerThread:
    def __init__(self, database_url: str, wrap=None, settings: Settings | None = None) -> None:
        """`wrap`, if given, wraps the app (e.g. to record requests); `settings` replace the
        defaults (their database URL is `database_url`)."""
        self.sock = bound_socket()
        self.port = self.sock.getsockname()[1]
        # As the service's role (tests/databases.py::app_url).
        app = create_app(dataclasses.replace(settings or Settings(), database_url=databases.app_url(database_url)))
        config = uvicorn.Config(wrap(app) if wrap else app, host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        # uvicorn listens on the given socket and closes it at shutdown.
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()  # already closed by uvicorn, unless it failed to start


def drive_sdk(url: str, key: str) -> None:
    client = langsmith.Client(api_url=url, api_key=key, auto_batch_tracing=False)
    dataset = client.create_dataset("sdk-ds", description="made by the SDK", metadata={"team": "qa"})
    assert dataset.name == "sdk-ds" and dataset.description == "made by the SDK"
    client.create_examples(dataset_id=dataset.id, examples=[
        {"inputs": {"q": f"q{i}"}, "outputs": {"a": i}, "metadata": {"i": i},
         "split": "train" if i % 2 else None} for i in range(5)
    ])
    examples = list(client.list_examples(dataset_id=dataset.id))
    assert sorted(e.inputs["q"] for e in examples) == [f"q{i}" for i in range(5)]
    assert all(e.dataset_id == dataset.id for e in examples)
    train = list(client.list_examples(dataset_id=dataset.id, splits=["train"]))
    assert sorted(e.outputs["a"] for e in train) == [1, 3]
    assert [e.metadata["i"] for e in client.list_examples(dataset_id=dataset.id, metadata={"i": 2})] == [2]
    assert len(list(client.list_examples(dataset_name="sdk-ds", limit=2))) == 2
    read = client.read_dataset(dataset_name="sdk-ds")
    assert read.id == dataset.id and read.example_count == 5 and read.metadata["team"] == "qa"
    assert client.read_dataset(dataset_id=dataset.id).name == "sdk-ds"
    with pytest.raises(langsmith.utils.LangSmithNotFoundError):
        client.read_dataset(dataset_name="no-such-dataset")
    with pytest.raises(langsmith.utils.LangSmithConflictError):
        client.create_dataset("sdk-ds")


async def test_langsmith_sdk(api, database_url, monkeypatch):
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    with ServerThread(database_url) as url:
        await asyncio.to_thread(drive_sdk, url, api.key)
        await asyncio.to_thread(drive_sdk_with_prefix, url + "/api/v1", api.key)


def drive_sdk_with_prefix(url: str, key: str) -> None:
    client = langsmith.Client(api_url=url, api_key=key, auto_batch_tracing=False)
    assert client.read_dataset(dataset_name="sdk-ds").example_count == 5
