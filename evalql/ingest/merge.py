"""The merge rules of spec §7.5.2, as pure functions over records (dicts of given fields).

A stored run is `merge(post, patches…)`: a patch's fields override the post's whatever
the arrival order, a later patch overrides an earlier one, and a repeated post updates
only the post part. The run row keeps, in `ingest_state`, what that needs beyond the
merged values: the names of the fields patches set and the merged patch `extra`.
"""

from __future__ import annotations

from typing import Any

from evalql.db.writes import GIVEN_FIELDS, as_given

# Fields that only a post decides: the run's identity, place in its trace and session.
# Patches repeat them for routing (the SDK does), but cannot move a run.
POST_ONLY = frozenset({"id", "trace_id", "dotted_order", "parent_run_id", "session_id", "session_name"})
STORED = ("name", "run_type", "start_time", "end_time", "inputs", "outputs", "error", "extra", "events", "tags",
          "serialized", "parent_run_id", "trace_id", "dotted_order", "session_id", "reference_example_id")


def merge_extra(base: Any, update: Any) -> Any:
    """`extra` merged key by key at the top level, `extra.metadata` by key."""
    if not isinstance(update, dict):
        return base
    if not isinstance(base, dict):
        return dict(update)
    merged = {**base, **update}
    if isinstance(base.get("metadata"), dict) and isinstance(update.get("metadata"), dict):
        merged["metadata"] = {**base["metadata"], **update["metadata"]}
    return merged


def merge_posts(posts: list[dict[str, Any]]) -> dict[str, Any]:
    """Repeated posts: each one's given fields update the earlier ones."""
    merged: dict[str, Any] = {}
    for post in posts:
        merged.update(post)
    return merged


class MergedRun:
    """A run's record under construction: its values, the fields patches set, and
    the merged patch `extra`."""

    def __init__(self, record: dict[str, Any], patched: set[str] | None = None, patch_extra: Any = None) -> None:
        self.record, self.patched, self.patch_extra = record, patched or set(), patch_extra

    @classmethod
    def from_row(cls, run: Any) -> MergedRun:
        """From a stored run: a row with the STORED columns, `id` and `ingest_state`."""
        state = run.ingest_state or {}
        record = {name: getattr(run, name) for name in STORED}
        record.update(state.get("given") or {})
        record["id"] = run.id
        return cls({k: v for k, v in record.items() if v is not None}, set(state.get("patched") or ()),
                   state.get("patch_extra"))

    def apply_post(self, post: dict[str, Any]) -> None:
        for name, value in post.items():
            if name == "extra":
                continue
            if name not in self.patched or name in POST_ONLY:
                self.record[name] = value
        if "extra" in post:
            self.record["extra"] = merge_extra(post["extra"], self.patch_extra) if self.patch_extra else post["extra"]

    def apply_patch(self, patch: dict[str, Any]) -> None:
        for name, value in patch.items():
            if name in POST_ONLY:
                continue
            if name == "extra":
                self.record["extra"] = merge_extra(self.record.get("extra"), value)
                self.patch_extra = merge_extra(self.patch_extra, value)
            else:
                self.record[name] = value
            self.patched.add(name)

    def ingest_state(self) -> dict[str, Any]:
        given = {name: as_given(self.record[name]) for name in GIVEN_FIELDS if self.record.get(name) is not None}
        state: dict[str, Any] = {"patched": sorted(self.patched), "given": given}
        if self.patch_extra is not None:
            state["patch_extra"] = self.patch_extra
        return state

