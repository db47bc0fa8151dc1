"""The comparison page in a real browser (Debian's Chromium, headless), against a live
server with the demo loaded: what a person sees is checked against the GraphQL answer
the page is built on, asked here directly.

The fixtures are per module: one server, one browser; each test opens its own context
(fresh localStorage unless a key is put there), and fails if the page made a request to
another origin or logged an error.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import BROWSER_WAIT_MS, Visit, World, launch, record_timing, start_world

# `expect` waits 5 s by default: on a loaded CI machine a GraphQL round trip and a render
# can take longer; a page that never shows the right thing still fails.
expect.set_options(timeout=BROWSER_WAIT_MS)

GROUPS = """
query($ds: UUID!, $input: GroupRunsInput!, $baseline: UUID) {
  groupRuns(datasetId: $ds, input: $input, baselineSessionId: $baseline) {
  groupKey count exampleCount filter
  sessions { session { id name } filter runCount exampleCount errorRate latencyP50 totalTokens totalCost
             feedbackStats { key n avg stdev }
             deltas { feedback { key delta { meanDelta ciLow ciHigh } } latency { meanDelta ciLow ciHigh } } } } }"""
RUNS = """
query($ds: UUID!, $input: DatasetRunsInput!) { datasetRuns(datasetId: $ds, input: $input) {
  example { id } runs { id outputs session { id } } } }"""
KEYS = """
query($ds: UUID!, $sessions: [UUID!]!) { dataset(id: $ds) {
  runMetadataKeys(sessionIds: $sessions) { key } exampleMetadataKeys { key distinctValues } } }"""


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("page"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def visit(browser: Browser, world: World) -> Iterator[Callable[..., Visit]]:
    opened: list[Visit] = []

    def open_visit(key: str | None = "default") -> Visit:
        v = Visit(browser, world, world.key if key == "default" else key)
        opened.append(v)
        return v

    yield open_visit
    for v in opened:
        v.close()
    for v in opened:
        assert v.foreign_requests() == [], "the page asked another origin"
        assert v.errors == [], "the page logged errors"


def groups_answer(world: World, sessions: list[uuid.UUID], group_by: str, key: str,
                  filters: dict[uuid.UUID, str] | None = None, dataset: uuid.UUID | None = None,
                  baseline: uuid.UUID | None = None) -> list[dict]:
    """The answer the page shows; its baseline, as the page's, is the first session unless
    another is chosen (and none with a single session)."""
    inp = {"sessionIds": [str(s) for s in sessions], "groupBy": group_by, "metadataKey": key, "limit": 20,
           "perGroupLimit": 1, "preview": True,
           "filters": [{"sessionId": str(s), "filters": [f]} for s, f in (filters or {}).items()]}
    if baseline is None and len(sessions) > 1:
        baseline = sessions[0]
    return world.graphql(GROUPS, {"ds": str(dataset or world.dataset_id), "input": inp,
                                  "baseline": None if baseline is None else str(baseline)})["groupRuns"]


def shown_groups(page: Page) -> dict[str, dict[str, dict[str, str]]]:
    """{group key: {session id: {stat: exact value or text}}} as the page shows them."""
    return page.evaluate("""() => {
      const out = {};
      for (const body of document.querySelectorAll('[data-testid=groups-table] tbody')) {
        const rows = out[body.dataset.group] = {};
        for (const tr of body.querySelectorAll('tr[data-session]')) {
          const cells = rows[tr.dataset.session] = {};
          for (const td of tr.querySelectorAll('td[data-stat]')) {
            cells[td.dataset.stat] = td.dataset.exact ?? td.textContent.trim();
            cells[td.dataset.stat + ':title'] = td.title;
            const delta = td.querySelector('.delta');
            if (delta) cells[td.dataset.stat + ':delta'] = delta.dataset.delta + '|' + delta.dataset.ci;
          }
        }
      }
      return out;
    }""")


def js_number(value: float) -> str:
    """A number as JavaScript's String() writes it: 1, not 1.0; the shortest round trip
    digits, as repr, but positional from 1e-6 up to 1e21 (JS writes 0.0000795 where repr
    writes 7.95e-05), and an exponent without a leading zero (JS writes 5e-7, repr 5e-07)."""
    if value == 0:
        return "0"
    if 1e-6 <= abs(value) < 1e21:
        return np.format_float_positional(value, unique=True, trim="-")
    mantissa, exponent = repr(float(value)).split("e")
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{int(exponent.lstrip('+-'))}"


def check_groups(page: Page, expected: list[dict]) -> None:
    shown = shown_groups(page)
    assert list(shown) == [str(g["groupKey"]) for g in expected]
    for group in expected:
        rows = shown[str(group["groupKey"])]
        assert list(rows) == [s["session"]["id"] for s in group["sessions"]]
        for s in group["sessions"]:
            cells = rows[s["session"]["id"]]
            assert cells["runCount"] == str(s["runCount"]) and cells["exampleCount"] == str(s["exampleCount"])
            for f in s["feedbackStats"]:
                if f["avg"] is not None:  # rounded on screen, exact in the tooltip
                    assert float(cells[f"feedback.{f['key']}"]) == f["avg"]
                    assert f"mean {js_number(f['avg'])}," in cells[f"feedback.{f['key']}:title"]
            # The difference from the baseline, as the server computed it (none for the baseline).
            deltas = {d["key"]: d["delta"] for d in (s["deltas"] or {}).get("feedback", [])}
            for key, d in deltas.items():
                shown_delta = cells.get(f"feedback.{key}:delta")
                assert shown_delta == f"{js_number(d['meanDelta'])}|{js_number(d['ciLow'])},{js_number(d['ciHigh'])}"
            if not deltas:
                assert not any(name.endswith(":delta") and name.startswith("feedback.") for name in cells)
            latency = (s["deltas"] or {}).get("latency")
            if latency:
                assert cells["latencyP50:delta"].startswith(js_number(latency["meanDelta"]) + "|")


def wait_for_groups(page: Page, expected: list[dict]) -> None:
    keys = [str(g["groupKey"]) for g in expected]
    page.wait_for_function(
        "keys => JSON.stringify([...document.querySelectorAll('[data-testid=groups-table] tbody')]"
        ".map(b => b.dataset.group)) === JSON.stringify(keys)", arg=keys, timeout=15000)


def settled(page: Page, expected: list[dict], timeout_s: float = 15.0) -> None:
    """check_groups once the page shows that answer: after a change of view the previous
    answer stays on screen until the new one arrives (no blank flash), so wait for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            check_groups(page, expected)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.wait_for_timeout(100)


SDK_KEYS = {"LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT", "revision_id", "num_repetitions", "example_version"}


def default_grouping(world: World, sessions: list[uuid.UUID], dataset: uuid.UUID | None = None) -> tuple[str, str]:
    """The grouping a link without one opens on (web/src/compare/grouping.ts, as the README
    says): the most common example metadata key with more than one value, `dataset_split`
    last (else the most common), else the most common run metadata key the LangSmith SDK
    does not add itself."""
    found = world.graphql(KEYS, {"ds": str(dataset or world.dataset_id), "sessions": [str(s) for s in sessions]})
    example_keys = found["dataset"]["exampleMetadataKeys"]
    if example_keys:
        varied = [k["key"] for k in example_keys if k["distinctValues"] > 1]
        return "EXAMPLE_METADATA", next((k for k in varied if k != "dataset_split"), (varied or [example_keys[0]["key"]])[0])
    run_keys = [k["key"] for k in found["dataset"]["runMetadataKeys"]]
    useful = [k for k in run_keys if not (k in SDK_KEYS or k.startswith(("ls_", "__")))]
    return "RUN_METADATA", (useful or run_keys)[0]


def page_timings(page: Page) -> dict:
    """The page's own marks (web/src: `groups:shown`, `examples:render`) and what it shows."""
    return page.evaluate("""() => ({
      firstContentfulPaintMs: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
      groupsShownMs: performance.getEntriesByName('groups:shown')[0]?.startTime,
      examplesRenderMs: performance.getEntriesByName('examples:render').map(e => e.duration),
      examplesShown: document.querySelectorAll('[data-testid=examples-table] tbody tr').length,
      experiments: document.querySelectorAll('[data-testid=examples-table] thead th').length - 1,
    })""")


def test_js_number_writes_numbers_as_the_browser_does(browser: Browser):
    """The oracle the page tests compare with: it must agree with Chromium's String() on
    every magnitude, or a test fails when a demo's random delta is tiny (5e-7) or huge."""
    rng = np.random.default_rng(13)
    values = [4.99999999999985e-07, 1e-6, 9.99e-7, 1e21, 1e20, 123456789012345678.0, -0.5,
              7.95e-05, 0.1, 5e-324, 1.7976931348623157e308, -3e-9, 2.0, -0.0]
    values += [float(m * 10.0 ** e) for m, e in zip(rng.uniform(-1, 1, 400), rng.integers(-30, 31, 400), strict=True)]
    page = browser.new_page()
    try:
        written = page.evaluate("values => values.map(String)", values)
    finally:
        page.close()
    assert [js_number(v) for v in values] == written


def test_key_is_asked_once_and_the_landing_lists_the_workspace(visit, world: World):
    v = visit(key=None)
    v.page.goto(world.url + "/")
    expect(v.page.get_by_label("API key")).to_be_visible()
    v.screenshot("key-prompt")
    v.page.get_by_label("API key").fill(world.key)
    v.page.get_by_role("button", name="Continue").click()
    expect(v.page.get_by_role("link", name="qa-demo", exact=True)).to_be_visible()
    for session_id, name in world.names.items():
        link = v.page.get_by_role("link", name=name, exact=True)
        assert f"selectedSessions={session_id}" in link.get_attribute("href")
        assert f"/o/{world.workspace_id}/datasets/{world.dataset_id}/compare" in link.get_attribute("href")
    v.screenshot("landing")
    v.page.reload()  # kept in this browser: not asked again
    expect(v.page.get_by_role("link", name="qa-demo", exact=True)).to_be_visible()
    expect(v.page.get_by_label("API key")).to_have_count(0)


def test_a_refused_key_is_asked_again(visit, world: World):
    v = visit(key="evq_not_a_key")
    v.refusal_expected = True
    v.page.goto(world.compare_url())
    expect(v.page.get_by_role("alert")).to_be_visible()
    expect(v.page.get_by_label("API key")).to_be_visible()
    assert v.page.evaluate("localStorage.getItem('evalql:apiKey')") is None


def test_compare_shows_what_graphql_answers(visit, world: World):
    sessions = world.session_ids
    expected = groups_answer(world, sessions, *default_grouping(world, sessions))
    v = visit()
    v.page.goto(world.compare_url())
    wait_for_groups(v.page, expected)
    check_groups(v.page, expected)
    # The first group's examples, page 1: the examples and runs datasetRuns gives for the
    # group's per-session filter strings.
    first = expected[0]
    by_session = {s["session"]["id"]: s["filter"] for s in first["sessions"]}
    runs = world.graphql(RUNS, {"ds": str(world.dataset_id), "input": {
        "sessionIds": [str(s) for s in sessions], "limit": 51,
        "filters": [{"sessionId": str(s), "filters": [by_session.get(str(s), first["filter"])]} for s in sessions]}})
    rows = runs["datasetRuns"][:50]
    v.page.wait_for_selector("[data-testid=examples-table] tbody tr")
    shown = v.page.eval_on_selector_all("[data-testid=examples-table] tbody tr", "rs => rs.map(r => r.dataset.example)")
    assert shown == [r["example"]["id"] for r in rows]
    shown_runs = v.page.eval_on_selector_all("[data-testid=examples-table] [data-run]", "rs => rs.map(r => r.dataset.run)")
    assert sorted(shown_runs) == sorted(run["id"] for r in rows for run in r["runs"])
    # Marked: the runs whose output differs from the baseline's (its first run on the example).
    baseline = str(sessions[0])
    differs = []
    for r in rows:
        base = [run["outputs"] for run in r["runs"] if run["session"]["id"] == baseline]
        differs += [run["id"] for run in r["runs"] if base and run["session"]["id"] != baseline
                    and run["outputs"] != base[0]]
    marked = v.page.eval_on_selector_all("[data-testid=examples-table] .run.differs", "rs => rs.map(r => r.dataset.run)")
    assert differs and sorted(marked) == sorted(differs)
    expect(v.page.get_by_role("img", name=re.compile("Feedback mean"))).to_be_visible()
    v.screenshot("compare")
    v.page.locator("[data-testid=examples-table]").scroll_into_view_if_needed()
    v.screenshot("compare-examples")
    timings = page_timings(v.page)
    record_timing("compare-demo", timings)
    assert timings["examplesRenderMs"] and timings["groupsShownMs"], "the page measures itself"


def test_a_page_of_50_examples_by_4_experiments_is_measured(visit, world: World):
    """The demo's prompt_version v1 group: 50 examples, shown against all four experiments
    (two of which did not run it). Its render time is recorded for the note, not asserted:
    the suite checks behaviour, the figure is read off test-artifacts/timings/."""
    v = visit()
    v.page.goto(world.compare_url(groupBy="run", key="prompt_version", group="v1"))
    v.page.wait_for_function("() => document.querySelectorAll('[data-testid=examples-table] tbody tr').length === 50")
    v.page.wait_for_function("() => performance.getEntriesByName('examples:render').length > 0")
    timings = page_timings(v.page)
    assert (timings["examplesShown"], timings["experiments"]) == (50, 4)
    record_timing("examples-50x4", timings)


def test_filter_error_is_shown_at_its_offset_and_a_fixed_filter_applies(visit, world: World):
    sessions = world.session_ids[:2]
    grouping = default_grouping(world, sessions)
    v = visit()
    v.page.goto(world.compare_url(sessions))
    wait_for_groups(v.page, groups_answer(world, sessions, *grouping))
    name = world.names[str(sessions[1])]
    box = v.page.get_by_label(f"Filter for {name}")
    wrong = 'eq(status, "success"'
    box.fill(wrong)
    message = world.graphql("query($f: String!) { validateFilter(filter: $f) { message offset } }",
                            {"f": wrong})["validateFilter"]
    error = v.page.locator(".filter-error")
    expect(error).to_contain_text(message["message"])
    caret = error.locator("pre").inner_text().split("\n")[1]
    assert caret == " " * message["offset"] + "^"
    expect(v.page.get_by_role("button", name="Apply").nth(1)).to_be_disabled()
    v.screenshot("filter-error")

    box.fill('eq(status, "success")')
    expect(error).to_have_count(0)
    box.press("Enter")
    expected = groups_answer(world, sessions, *grouping, {sessions[1]: 'eq(status, "success")'})
    v.page.wait_for_function("() => location.search.includes('filter.')")
    v.page.wait_for_function(
        "([g, s, n]) => document.querySelector(`[data-testid=groups-table] tbody[data-group='${g}'] "
        "tr[data-session='${s}'] td[data-stat=runCount]`)?.textContent === n",
        arg=[str(expected[0]["groupKey"]), str(sessions[1]), str(expected[0]["sessions"][1]["runCount"])])
    settled(v.page, expected)


def test_grouping_baseline_and_history(visit, world: World):
    sessions = world.session_ids[:2]
    grouping = default_grouping(world, sessions)
    v = visit()
    v.page.goto(world.compare_url(sessions))
    wait_for_groups(v.page, groups_answer(world, sessions, *grouping))
    expect(v.page.get_by_label("Metadata of")).to_have_value(grouping[0])
    start = v.page.url

    v.page.get_by_label("Metadata of").select_option("RUN_METADATA")
    v.page.get_by_label("Key", exact=True).select_option("model")
    by_model = groups_answer(world, sessions, "RUN_METADATA", "model")
    wait_for_groups(v.page, by_model)
    settled(v.page, by_model)

    second = world.names[str(sessions[1])]
    v.page.get_by_label(f"Baseline: {second}").check()
    badge = v.page.locator("[data-testid=groups-table] tbody").first.locator("tr", has=v.page.locator(".badge"))
    expect(badge).to_have_attribute("data-session", str(sessions[1]))
    assert f"baseline={sessions[1]}" in v.page.url
    settled(v.page, groups_answer(world, sessions, "RUN_METADATA", "model", baseline=sessions[1]))
    v.screenshot("grouped-by-model")

    v.page.go_back()  # the baseline back to the first experiment
    expect(badge).to_have_attribute("data-session", str(sessions[0]))
    v.page.go_back()
    v.page.go_back()  # before the grouping changed
    assert v.page.url == start
    expect(v.page.get_by_label("Metadata of")).to_have_value(grouping[0])
    settled(v.page, groups_answer(world, sessions, *grouping))
    v.page.go_forward()
    v.page.go_forward()
    wait_for_groups(v.page, by_model)
    settled(v.page, by_model)


def test_export_downloads_what_is_shown(visit, world: World):
    sessions = world.session_ids[:3]
    expected = groups_answer(world, sessions, *default_grouping(world, sessions))
    v = visit()
    v.page.goto(world.compare_url(sessions))
    wait_for_groups(v.page, expected)

    with v.page.expect_download() as csv_download:
        v.page.get_by_role("button", name="Groups CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(csv_download.value.path()).read())))
    assert [(r["group"], r["session_id"]) for r in rows] == [
        (str(g["groupKey"]), s["session"]["id"]) for g in expected for s in g["sessions"]]
    flat = [(g, s) for g in expected for s in g["sessions"]]
    for row, (_group, s) in zip(rows, flat, strict=True):
        assert int(row["run_count"]) == s["runCount"] and row["total_tokens"] == str(s["totalTokens"])
        for f in s["feedbackStats"]:
            if f["avg"] is not None:
                assert float(row[f"{f['key']}.avg"]) == f["avg"] and int(row[f"{f['key']}.n"]) == f["n"]
        for d in (s["deltas"] or {}).get("feedback", []):
            assert float(row[f"{d['key']}.delta"]) == d["delta"]["meanDelta"]
            assert float(row[f"{d['key']}.delta_ci_low"]) == d["delta"]["ciLow"]

    with v.page.expect_download() as json_download:
        v.page.get_by_role("button", name="Groups JSON").click()
    exported = json.loads(open(json_download.value.path()).read())
    assert [g["groupKey"] for g in exported["groups"]] == [g["groupKey"] for g in expected]
    assert exported["sessions"] == [{"id": str(s), "name": world.names[str(s)]} for s in sessions]

    v.page.wait_for_selector("[data-testid=examples-table] [data-run]")
    shown_runs = v.page.eval_on_selector_all("[data-testid=examples-table] [data-run]", "rs => rs.map(r => r.dataset.run)")
    with v.page.expect_download() as examples_download:
        v.page.get_by_role("button", name="Examples CSV").click()
    example_rows = list(csv.DictReader(io.StringIO(open(examples_download.value.path()).read())))
    assert sorted(r["run_id"] for r in example_rows) == sorted(shown_runs)


def test_a_run_ingested_while_the_page_is_open_appears(visit, world: World):
    import httpx

    sessions = world.session_ids[:2]
    v = visit()
    v.page.goto(world.compare_url(sessions, groupBy="example", key="topic"))
    before = groups_answer(world, sessions, "EXAMPLE_METADATA", "topic")
    wait_for_groups(v.page, before)
    group = before[0]
    cell = (f"[data-testid=groups-table] tbody[data-group='{group['groupKey']}'] "
            f"tr[data-session='{sessions[0]}'] td[data-stat=runCount]")
    expect(v.page.locator(cell)).to_have_text(str(group["sessions"][0]["runCount"]))
    # Live through the GraphQL subscription (groupRunsChanged): the page then polls only every
    # 30 s, longer than the waits below, so the update has to come from the socket.
    expect(v.page.locator(".liveness")).to_have_text("● live", timeout=10000)

    example = world.graphql(RUNS, {"ds": str(world.dataset_id), "input": {
        "sessionIds": [str(sessions[0])], "limit": 1,
        "filters": [{"sessionId": str(sessions[0]), "filters": [group["sessions"][0]["filter"]]}]}}
    )["datasetRuns"][0]["example"]["id"]
    run_id = uuid.uuid4()
    posted = httpx.post(f"{world.url}/api/v1/runs", headers={"X-API-Key": world.key}, json={
        "id": str(run_id), "name": "late", "run_type": "chain", "session_id": str(sessions[0]),
        "reference_example_id": example, "inputs": {"q": "late"}, "outputs": {"a": "late answer " + "x" * 300},
        "start_time": "2026-11-30T10:00:00+00:00", "end_time": "2026-11-30T10:00:01+00:00"})
    assert posted.status_code == 202, posted.text
    expect(v.page.locator(cell)).to_have_text(str(group["sessions"][0]["runCount"] + 1), timeout=15000)
    late = v.page.locator(f"[data-run='{run_id}']")
    expect(late).to_contain_text("late answer", timeout=15000)
    # A long value folds: a summary of its start, the whole of it behind the disclosure.
    summary = late.locator("details summary")
    assert len(summary.inner_text()) < 200
    expect(late.locator("details pre")).to_be_hidden()
    summary.click()
    expect(late.locator("details pre")).to_have_text("late answer " + "x" * 300)


def test_read_only_key_is_enough_and_other_workspaces_see_nothing(visit, world: World):
    sessions = world.session_ids[:2]
    v = visit(key=world.read_only_key)
    v.page.goto(world.compare_url(sessions))
    wait_for_groups(v.page, groups_answer(world, sessions, *default_grouping(world, sessions)))

    other = visit(key=world.other_key)
    other.page.goto(world.compare_url(sessions))
    expect(other.page.get_by_role("alert")).to_contain_text("not in the workspace of this API key")
    for name in world.names.values():
        expect(other.page.get_by_text(name)).to_have_count(0)
    other.page.goto(world.url + "/")
    expect(other.page.get_by_text("No datasets in this workspace yet")).to_be_visible()


def test_controls_have_labels_and_work_from_the_keyboard(visit, world: World):
    sessions = world.session_ids[:1]
    v = visit()
    v.page.goto(world.compare_url(sessions))
    v.page.wait_for_selector("[data-testid=groups-table]")
    unlabeled = v.page.evaluate("""() => [...document.querySelectorAll('input, select, button')].filter(el => {
        const labelled = el.getAttribute('aria-label') || (el.id && document.querySelector(`label[for='${el.id}']`))
          || el.closest('label') || (el.tagName === 'BUTTON' && el.textContent.trim());
        return !labelled;
      }).map(el => el.outerHTML)""")
    assert unlabeled == []
    second = world.names[str(world.session_ids[1])]
    box = v.page.get_by_label(f"Compare {second}")
    box.focus()
    v.page.keyboard.press("Space")
    v.page.wait_for_function("n => location.search.includes(n)", arg=str(world.session_ids[1]))
    expect(v.page.get_by_label(f"Filter for {second}")).to_be_visible()


SDK_ENV = ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT",
           "LANGSMITH_PROJECT", "LANGCHAIN_PROJECT", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
PRINTED_LINK = re.compile(r"View the evaluation results for experiment: '([^']+)' at:\s*(\S+)")


def test_the_link_evaluate_prints_opens_the_comparison(visit, world: World, monkeypatch, capsys):
    """Both endpoint spellings of the README, through the real SDK: `…/api/v1` and the
    bare origin. With `web_url` (the README's advice) the printed link is evalql's page."""
    import langsmith

    for name in SDK_ENV:
        monkeypatch.delenv(name, raising=False)
    questions = [("2+2", "4", "easy"), ("3*3", "9", "easy"), ("12*12", "144", "hard"), ("17*3", "51", "hard")]
    spellings = {"a": f"{world.url}/api/v1", "b": world.url}
    clients = {m: langsmith.Client(api_url=u, api_key=world.key, web_url=world.url) for m, u in spellings.items()}
    dataset = clients["a"].create_dataset("sdk-page")
    clients["b"].create_examples(dataset_id=dataset.id, examples=[
        {"inputs": {"question": q}, "outputs": {"answer": a}, "metadata": {"difficulty": d}} for q, a, d in questions])

    def exact(outputs: dict, reference_outputs: dict) -> dict:
        return {"key": "exact", "score": outputs["answer"] == reference_outputs["answer"]}

    links = {}
    for model, client in clients.items():
        capsys.readouterr()
        results = client.evaluate(lambda inputs, m=model: {"answer": "4" if m == "a" else str(eval(inputs["question"]))},
                                  data="sdk-page", evaluators=[exact], metadata={"model": model},
                                  experiment_prefix=f"page-{model}", blocking=True)
        client.flush()
        found = PRINTED_LINK.search(capsys.readouterr().out)
        assert found, "evaluate() printed no link"
        assert found.group(1) == results.experiment_name
        links[model] = found.group(2)
    assert all(link.startswith(f"{world.url}/o/{world.workspace_id}/datasets/{dataset.id}/compare?selectedSessions=")
               for link in links.values()), links

    sessions = [uuid.UUID(links[m].rsplit("=", 1)[1]) for m in ("a", "b")]
    v = visit()
    v.page.goto(links["b"])
    expect(v.page.get_by_role("heading", name="sdk-page")).to_be_visible()
    expect(v.page.get_by_label(re.compile(r"^Compare page-b"))).to_be_checked()
    v.page.get_by_label(re.compile(r"^Compare page-a")).check()  # add the other experiment
    # By default, the examples' own metadata; by run metadata, not a key the SDK adds to
    # every run (LANGSMITH_ENDPOINT, revision_id…) but the experiments' own.
    expect(v.page.get_by_label("Metadata of")).to_have_value("EXAMPLE_METADATA")
    expect(v.page.get_by_label("Key", exact=True)).to_have_value("difficulty")
    v.page.get_by_label("Metadata of").select_option("RUN_METADATA")
    expect(v.page.get_by_label("Key", exact=True)).to_have_value("model")
    v.page.get_by_label("Metadata of").select_option("EXAMPLE_METADATA")
    expected = groups_answer(world, [sessions[1], sessions[0]], "EXAMPLE_METADATA", "difficulty",
                             dataset=dataset.id)
    wait_for_groups(v.page, expected)
    settled(v.page, expected)
    # The oracle: target b is always right; target a only on 2+2.
    easy = {s["session"]["id"]: next(f["avg"] for f in s["feedbackStats"] if f["key"] == "exact")
            for s in expected[0]["sessions"]}
    assert easy == {str(sessions[0]): 0.5, str(sessions[1]): 1.0}
    v.screenshot("sdk-link")


def test_graphiql_fetches_the_schema_once_a_key_is_entered(visit, world: World):
    """Before a key, GraphiQL's schema fetch is refused; typing the key into its Headers
    tab makes it fetch again, so Docs and autocomplete work without a manual refetch."""
    v = visit(key=None)
    v.refusal_expected = True  # the first schema fetch, without a key
    v.page.goto(world.url + "/graphql")
    headers = v.page.locator(".graphiql-editor-tool .CodeMirror >> visible=true").first
    headers.click()
    v.page.keyboard.press("Control+A")
    v.page.keyboard.type('{"X-API-Key": "%s"}' % world.key)
    v.page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = v.page.locator(".graphiql-doc-explorer")
    expect(docs).to_contain_text("Query", timeout=10000)
    expect(docs).not_to_contain_text("Error fetching schema")
    docs.get_by_text("Query", exact=True).first.click()
    expect(docs).to_contain_text("groupRuns")
    v.screenshot("graphiql-docs")
