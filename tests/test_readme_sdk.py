"""The README's "Use it from the LangSmith SDK" example runs as printed against a live
server (uvicorn, real SDK) and prints what the README says it prints."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from pathlib import Path

import httpx
import pytest

from tests.test_langsmith_sdk import ServerThread

langsmith = pytest.importorskip("langsmith")
from langsmith import utils as ls_utils  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"


def sdk_example() -> str:
    section = README.read_text().split("## Use it from the LangSmith SDK", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def run_example(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    return out.getvalue()


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("endpoint", ["{url}/api/v1", "{url}"])
async def test_readme_sdk_example(api, database_url, monkeypatch, endpoint):
    """Both endpoint spellings the README offers; the links `evaluate()` prints open the
    comparison page (tests/test_page.py opens one in a browser)."""
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_ENDPOINT", "LANGCHAIN_API_KEY",
                 "LANGSMITH_PROJECT", "LANGSMITH_DISABLE_RUN_COMPRESSION"):
        monkeypatch.delenv(name, raising=False)
    with ServerThread(database_url) as url:
        monkeypatch.setenv("EVALQL_URL", url)
        monkeypatch.setenv("LANGSMITH_ENDPOINT", endpoint.format(url=url))
        monkeypatch.setenv("LANGSMITH_API_KEY", api.key)
        ls_utils.get_env_var.cache_clear()
        try:
            printed = await asyncio.to_thread(run_example, sdk_example())
            links = re.findall(r"View the evaluation results for experiment: '[^']+' at:\s*(\S+)", printed)
            assert len(links) == 2
            [both] = re.findall(r"Both side by side: (\S+)", printed)
            ids = [link.rsplit("=", 1)[1] for link in links]
            assert both.startswith(f"{url}/o/") and both.endswith("selectedSessions=" + ",".join(ids))
            links.append(both)
            async with httpx.AsyncClient() as http:
                for link in links:
                    assert link.startswith(f"{url}/o/") and "/compare?selectedSessions=" in link
                    page = await http.get(link)
                    assert page.status_code == 200 and '<div id="app">' in page.text
        finally:
            ls_utils.get_env_var.cache_clear()
    # evaluate() prints its own progress lines too; the example's own lines are "<model> <avg>".
    scores = {words[0]: float(words[1]) for words in map(str.split, printed.splitlines())
              if len(words) == 2 and words[0] in ("lookup", "guess")}
    assert scores == pytest.approx({"lookup": 1.0, "guess": 1 / 3})
