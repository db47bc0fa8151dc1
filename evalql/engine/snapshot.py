"""Snapshots of the engine's state on local disk, so that a restarted server answers its
first comparison in a second instead of re-reading every run and feedback row.

A snapshot is a cache like the state itself: written atomically (a temporary file, then
a rename), read back only when its data version is not newer than the database's, and then
brought up to date from the change log like any state (a log pruned past it means a
rebuild from the tables). Anything unreadable (another format, a torn disk) is ignored.
The directory holds one file per workspace; several processes may share it.
"""

from __future__ import annotations

import logging
import os
import pickle
import uuid
from pathlib import Path
from typing import Any

from evalql.engine.columns import Interned, Table
from evalql.engine.state import SessionState, WorkspaceState

log = logging.getLogger("evalql.engine")

FORMAT = 2  # 2: ids held as bytes (datasets interned by their bytes)


def freeze(state: WorkspaceState) -> dict[str, Any]:
    """A copy of the state, taken under its lock (array copies: milliseconds), to be written
    away without it."""
    return {
        "format": FORMAT, "workspace_id": state.workspace_id, "version": state.version,
        "examples": state.examples.frozen(), "datasets": list(state.datasets.values),
        "loaded_datasets": set(state.loaded_datasets), "example_keys": set(state.example_keys),
        "feedback_keys": list(state.feedback_keys.values), "labels": list(state.labels.values),
        "groups": {key: (list(g.identity.values), list(g.num)) for key, g in state.groups.items()},
        "sessions": {session_id: {
            "runs": s.runs.frozen(), "feedback": s.feedback.frozen(), "comments": dict(s.comments),
            "run_keys": set(s.run_keys), "session_feedback": dict(s.session_feedback),
        } for session_id, s in state.sessions.items()},
    }


def thaw(frozen: dict[str, Any]) -> WorkspaceState:
    state = WorkspaceState(frozen["workspace_id"], frozen["version"])
    state.generation = state.saved_generation = state.builds = state.saved_builds = 1
    state.examples = Table.thawed(frozen["examples"])
    state.datasets = Interned.of(frozen["datasets"])
    state.loaded_datasets = frozen["loaded_datasets"]
    state.example_keys = frozen["example_keys"]
    state.feedback_keys = Interned.of(frozen["feedback_keys"])
    state.labels = Interned.of(frozen["labels"])
    for key, (identities, nums) in frozen["groups"].items():
        groups = state.grouping(*key)
        groups.identity, groups.num = Interned.of(identities), nums
    for session_id, s in frozen["sessions"].items():
        state.sessions[session_id] = SessionState(
            runs=Table.thawed(s["runs"]), feedback=Table.thawed(s["feedback"]), comments=s["comments"],
            run_keys=s["run_keys"], session_feedback=s["session_feedback"])
    return state


def path_of(directory: Path, workspace_id: uuid.UUID) -> Path:
    return directory / f"{workspace_id}.state"


def save(directory: Path, frozen: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    final = path_of(directory, frozen["workspace_id"])
    temporary = final.with_suffix(f".{os.getpid()}.tmp")
    with temporary.open("wb") as f:
        pickle.dump(frozen, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, final)


def load(directory: Path, workspace_id: uuid.UUID) -> WorkspaceState | None:
    path = path_of(directory, workspace_id)
    try:
        with path.open("rb") as f:
            # Only this process's own kind writes here: the directory is the server's cache.
            frozen = pickle.load(f)  # noqa: S301
        if frozen.get("format") != FORMAT or frozen.get("workspace_id") != workspace_id:
            return None
        return thaw(frozen)
    except FileNotFoundError:
        return None
    except Exception:
        log.warning("engine snapshot %s unreadable, rebuilding from the tables", path, exc_info=True)
        return None
