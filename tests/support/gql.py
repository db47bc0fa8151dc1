"""GraphQL selections of every field, shared by the comparison and statement-count tests."""

from __future__ import annotations

EVERY_FIELD_BUDGET = 1_000_000
"""The documents here select every field of the schema (each run's children, feedback with its
run and session, every statistics block with its value counts) over the largest pages: an
estimate (evalql/schema/cost.py) far past what the default budget lets a client ask at once.
The tests that send them, to compare answers and count statements, raise the budget to this
(`pytest.mark.settings(graphql_max_cost=EVERY_FIELD_BUDGET)`); the budget itself is tested in
tests/test_hardening_graphql.py."""

FEEDBACK_STATS = "feedbackStats { key n avg stdev min max errors values { value count } comments }"
SESSION_FEEDBACK_STATS = "sessionFeedbackStats { key n avg stdev min max errors values { value count } comments }"

DATASET = "id name description dataType createdAt modifiedAt exampleCount sessionCount"
SESSION = ("id name description startTime endTime metadata extra "
           "referenceDataset { id name exampleCount }")
EXAMPLE = ("id name inputs outputs metadata splits sourceRunId createdAt modifiedAt "
           "dataset { id name exampleCount }")
FEEDBACK = ("id key score value comment correction "
            "feedbackSource { type metadata userId lsUserId userName } "
            "feedbackGroupId comparativeExperimentId startTime createdAt modifiedAt isRoot traceId "
            "run { id } session { id }")
RUN_SCALARS = ("id name runType status startTime endTime latency firstTokenTime inputs outputs "
               "inputsPreview outputsPreview error extra metadata tags events serialized traceId dottedOrder "
               "executionOrder parentRunId totalTokens promptTokens completionTokens totalCost promptCost "
               "completionCost appPath")
RUN = (f"{RUN_SCALARS} parent {{ id }} children {{ id name runType parentRunId totalTokens }} "
       f"session {{ id name }} referenceExample {{ id name }} feedbacks {{ {FEEDBACK} }} {FEEDBACK_STATS}")
SESSION_STATS = (f"session {{ {SESSION} }} filter runCount exampleCount latencyP50 latencyP99 "
                 "firstTokenP50 firstTokenP99 totalTokens promptTokens completionTokens totalCost promptCost "
                 "completionCost errorRate streamingRate minStartTime maxStartTime lastRunStartTime "
                 f"{FEEDBACK_STATS} {SESSION_FEEDBACK_STATS} testRunNumber")
GROUP = ("groupKey filter count exampleCount totalTokens promptTokens completionTokens totalCost promptCost "
         f"completionCost minStartTime maxStartTime latencyP50 latencyP99 errorRate {FEEDBACK_STATS} "
         f"sessions {{ {SESSION_STATS} }} examples {{ example {{ {EXAMPLE} }} runs {{ {RUN} }} }}")

GROUP_RUNS = f"""
query GroupRuns($ds: UUID!, $input: GroupRunsInput!) {{
  groupRuns(datasetId: $ds, input: $input) {{ {GROUP} }}
}}
"""


def graphql_input(body: dict) -> dict:
    """The GraphQL GroupRunsInput for a REST group/runs body."""
    return {"groupBy": body["group_by"].upper(), "metadataKey": body["metadata_key"],
            **common_input(body, ("offset", "limit", "per_group_limit", "preview"))}


def common_input(body: dict, optional: tuple[str, ...]) -> dict:
    """`sessionIds`, `filters` and the `optional` fields a REST body sends, in GraphQL's names."""
    out: dict = {"sessionIds": body["session_ids"]}
    for rest in optional:
        if rest in body:
            head, *tail = rest.split("_")
            out[head + "".join(t.title() for t in tail)] = body[rest]
    if body.get("filters") is not None:
        out["filters"] = [{"sessionId": k, "filters": v} for k, v in body["filters"].items()]
    return out


EXAMPLE_WITH_RUNS = f"example {{ {EXAMPLE} }} runs {{ {RUN} }}"

DATASET_RUNS = f"""
query DatasetRuns($ds: UUID!, $input: DatasetRunsInput!) {{
  datasetRuns(datasetId: $ds, input: $input) {{ {EXAMPLE_WITH_RUNS} }}
}}
"""


def dataset_runs_input(body: dict) -> dict:
    """The GraphQL DatasetRunsInput for a REST `POST /datasets/{id}/runs` body (spec §6);
    `comparative_experiment_id`, which REST accepts and ignores, has no GraphQL field."""
    out = common_input(body, ("offset", "limit", "preview", "example_ids"))
    if body.get("sort_params") is not None:
        sort = body["sort_params"]
        out["sortParams"] = {"sortBy": sort["sort_by"], **({"sortOrder": sort["sort_order"]}
                                                           if "sort_order" in sort else {})}
    return out
