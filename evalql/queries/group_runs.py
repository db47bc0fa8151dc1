"""The group query (spec §5.3): groups of examples that the sessions ran, per metadata value.

A fixed number of statements answers any request, whatever the number of groups,
sessions, examples or runs: R(g) of every group, once, into a scratch table; the page of
groups; run aggregates; percentiles; feedback stats (run-level and session-level); the
page's examples; their runs; their feedback.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import Column, ColumnElement, Table, case, func, select, tuple_
from sqlalchemy.sql import FromClause

from evalql.core.values import group_key
from evalql.db.backend import is_postgresql
from evalql.db.bounds import MAX_OFFSET
from evalql.db.dialect import CodePointOrder
from evalql.db.models import Example, Feedback, Run
from evalql.db.scratch import scratch_table
from evalql.db.tenant import Tenant, readable
from evalql.filters.render import group_filter, session_filter
from evalql.queries import feedback_stats as fbs
from evalql.queries.candidates import GroupQuery, candidates, group_members, group_of, intersection
from evalql.queries.results import (
    ExampleWithRuns,
    Group,
    GroupIdentity,
    RunSetStats,
    RunWithFeedback,
    SessionInGroup,
)
from evalql.queries.run_details import (
    comparison_order,
    require_dataset_and_sessions,
    run_details,
    session_level_feedback,
)
from evalql.queries.run_stats import apply_percentiles, latency_percentiles, merge_stats, stats_by_partition
from evalql.queries.sessions import SessionRow

GROUP = ("is_text", "value")
GROUP_SESSION = ("is_text", "value", "session_id")


async def page_of_groups(tenant: Tenant, query: GroupQuery, members: FromClause) -> list[tuple[GroupIdentity, int]]:
    """Groups with a non-empty E(g), numbers first then strings, sliced by offset/limit."""
    examples = intersection(members)
    stmt = (
        select(examples.c.is_text, examples.c.value, func.count().label("example_count"))
        .group_by(examples.c.is_text, examples.c.value)
        .order_by(examples.c.is_text, *numeric_order(examples.c.num, examples.c.value),
                  CodePointOrder(examples.c.value))
        .offset(min(query.offset, MAX_OFFSET)).limit(query.limit)
    )
    return [(group_of(row), row.example_count) for row in await tenant.db.execute(stmt)]


def numeric_order(num: ColumnElement[float], text: ColumnElement[str]) -> list[ColumnElement]:
    """Numbers order by their float value; integers too large for a float to tell apart
    (|n| > 2**53) then order by their digits: longer is larger when positive, smaller
    when negative, and equal lengths compare as text in the same direction."""
    low = func.min(num)  # null for strings: every tie-break below is then null too
    return [low, case((low >= 0, func.length(text)), (low < 0, -func.length(text))),
            case((low >= 0, text)), case((low < 0, text)).desc()]


async def run_group_query(tenant: Tenant, query: GroupQuery, sessions: dict[uuid.UUID, SessionRow]) -> list[Group]:
    found = candidates(tenant, query)
    columns = [Column(c.name, c.type) for c in found.selected_columns]
    # Which indexes a scratch table gets is a choice of statements to run, not an SQL
    # expression, so it asks `is_postgresql`. SQLite aggregates and joins along these
    # indexes. PostgreSQL hashes instead, and must not index `value`: a metadata value
    # can exceed its ~2.7 kB index-row limit.
    by_group = ("example_id",) if is_postgresql(tenant.db) else ("is_text", "value", "example_id")
    async with (
        scratch_table(tenant.db, "evalql_candidates", columns, found, indexes=[by_group]) as cand,
        scratch_table(tenant.db, "evalql_group_runs", [Column(c.name, c.type) for c in found.selected_columns],
                      group_members(cand), indexes=[by_group, ("run_id",)]) as all_members,
    ):
        return await _answer(tenant, query, sessions, all_members)


async def _answer(tenant: Tenant, query: GroupQuery, sessions: dict[uuid.UUID, SessionRow], all_members: Table
                  ) -> list[Group]:
    page = await page_of_groups(tenant, query, all_members)
    if not page:
        return []
    identities = [identity for identity, _ in page]
    members = (select(all_members)
               .where(tuple_(all_members.c.is_text, all_members.c.value)
                      .in_([(g.is_text, g.value) for g in identities]))
               .subquery("page_members"))

    per_session = await stats_by_partition(tenant, members, GROUP_SESSION)
    session_pct = await latency_percentiles(tenant, members, GROUP_SESSION, first_token=True)
    group_pct = await latency_percentiles(tenant, members, GROUP, first_token=False)
    feedback_base = readable(tenant, Feedback, *[members.c[c] for c in GROUP_SESSION], *fbs.FEEDBACK_COLUMNS).join(
        members, members.c.run_id == Feedback.run_id)
    run_feedback = await fbs.partials_by_partition(tenant.db, feedback_base, GROUP_SESSION)
    session_feedback = await session_level_feedback(tenant, query.session_ids)
    examples = await _page_examples(tenant, query, members)
    runs = await _page_runs(tenant, query, members, examples)

    for key, stats in per_session.items():
        apply_percentiles(stats, session_pct.get(key))
    return assemble_groups(query, sessions, page, per_session, group_pct, run_feedback, session_feedback,
                           examples, runs)


def assemble_groups(query: GroupQuery, sessions: dict[uuid.UUID, SessionRow], page: list[tuple[GroupIdentity, int]],
                    per_session: dict[tuple, RunSetStats], group_pct: dict[tuple, dict[str, float]],
                    run_feedback: dict[tuple, fbs.Partials], session_feedback: dict[tuple, fbs.Partials],
                    examples: dict[GroupIdentity, list[Example]],
                    runs: dict[tuple[GroupIdentity, uuid.UUID], list[RunWithFeedback]]) -> list[Group]:
    """The typed answer from its parts, whoever computed them (this module's SQL or the
    engine): `per_session` is keyed (is_text, value, session_id), with percentiles applied."""
    groups = []
    for identity, example_count in page:
        key = group_key(bool(identity.is_text), identity.value)
        gfilter = group_filter(query.group_by.value, query.metadata_key, key)
        in_group: list[SessionInGroup] = []
        session_parts, feedback_parts = [], []
        for session_id in query.session_ids:  # S(g) in request order
            part_key = (identity.is_text, identity.value, session_id)
            stats = per_session.get(part_key)
            if stats is None:
                continue
            partials = run_feedback.get(part_key, {})
            session_parts.append(stats)
            feedback_parts.append(partials)
            stats.feedback_stats = fbs.finish(partials)
            row = sessions[session_id]
            in_group.append(SessionInGroup(
                session=row.session, stats=stats, example_count=example_count,
                filter=session_filter(gfilter, query.filter_strings.get(session_id, ())),
                session_feedback_stats=fbs.finish(session_feedback.get((session_id,), {})),
                test_run_number=row.test_run_number,
            ))
        total: RunSetStats = merge_stats(session_parts)
        apply_percentiles(total, group_pct.get((identity.is_text, identity.value)))
        total.first_token_p50 = total.first_token_p99 = None
        total.feedback_stats = fbs.finish(fbs.merge_all(feedback_parts))
        groups.append(Group(
            key=key, filter=gfilter, example_count=example_count, stats=total, sessions=in_group,
            examples=[ExampleWithRuns(example, runs.get((identity, example.id), []))
                      for example in examples.get(identity, [])],
        ))
    return groups


async def _page_examples(tenant: Tenant, query: GroupQuery, members) -> dict[GroupIdentity, list[Example]]:
    """The first `per_group_limit` examples of each E(g), by (created_at, id)."""
    in_group = select(members.c.is_text, members.c.value, members.c.example_id).distinct().subquery()
    ranked = (
        readable(tenant, Example, in_group.c.is_text, in_group.c.value, Example.id.label("example_id"),
                 func.row_number().over(partition_by=[in_group.c.is_text, in_group.c.value],
                                        order_by=[Example.created_at, Example.id]).label("rn"))
        .join(in_group, in_group.c.example_id == Example.id)
        .subquery("ranked_examples")
    )
    stmt = (
        readable(tenant, Example, ranked.c.is_text, ranked.c.value, Example)
        .join(ranked, ranked.c.example_id == Example.id)
        .where(ranked.c.rn <= query.per_group_limit)
        .order_by(ranked.c.is_text, ranked.c.value, ranked.c.rn)
    )
    out: dict[GroupIdentity, list[Example]] = defaultdict(list)
    for is_text, value, example in (await tenant.db.execute(stmt)):
        out[GroupIdentity(int(is_text), value)].append(example)
    return out


async def _page_runs(tenant: Tenant, query: GroupQuery, members: FromClause,
                     examples: dict[GroupIdentity, list[Example]]
                     ) -> dict[tuple[GroupIdentity, uuid.UUID], list[RunWithFeedback]]:
    """Every run of R(g) on the page's examples, ordered by (session position, start_time, id),
    with its run-level feedback."""
    wanted = [(g.is_text, g.value, e.id) for g, page in examples.items() for e in page]
    if not wanted:
        return {}
    stmt = (
        readable(tenant, Run, members.c.is_text, members.c.value, Run)
        .join(members, members.c.run_id == Run.id)
        .where(tuple_(members.c.is_text, members.c.value, members.c.example_id).in_(wanted))
    )
    rows = (await tenant.db.execute(stmt)).all()
    details = await run_details(tenant, [run for _, _, run in rows])
    order = comparison_order(query.session_ids)
    rows.sort(key=lambda r: order(r[2]))
    out: dict[tuple[GroupIdentity, uuid.UUID], list[RunWithFeedback]] = defaultdict(list)
    for is_text, value, run in rows:
        out[(GroupIdentity(int(is_text), value), run.reference_example_id)].append(details[run.id])
    return out


async def answer_group_query(tenant: Tenant, query: GroupQuery) -> list[Group]:
    """The checks of spec §5.2, then the group query."""
    sessions = await require_dataset_and_sessions(tenant, query.dataset_id, query.session_ids)
    return await run_group_query(tenant, query, sessions)
