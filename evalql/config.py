"""Runtime configuration, read from the environment (and overridden by CLI flags)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir


def default_database_url() -> str:
    path = Path(user_data_dir("evalql", appauthor=False)) / "evalql.db"
    return f"sqlite+aiosqlite:///{path}"


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(env: os._Environ[str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    graphiql: bool = True
    introspection: bool = True
    # Connection pool (PostgreSQL): per process; several workers multiply it.
    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout: float = 10.0  # seconds a request waits for a connection before a 503
    # Check every statement for its workspace condition (evalql/db/tenancy_check.py).
    # A debugging aid, off by default: the test suite runs every statement under the
    # check already, and in production it would add a walk of each statement's tree
    # to every execution and turn any false positive into a 500.
    check_tenancy: bool = False

    @classmethod
    def from_env(cls, database_url: str | None = None) -> Settings:
        env = os.environ
        return cls(
            database_url=database_url or env.get("EVALQL_DATABASE_URL") or default_database_url(),
            cors_origins=_csv(env.get("EVALQL_CORS_ORIGINS")),
            graphiql=_flag(env.get("EVALQL_GRAPHIQL"), True),
            introspection=_flag(env.get("EVALQL_INTROSPECTION"), True),
            pool_size=_int(env, "EVALQL_POOL_SIZE", 10),
            max_overflow=_int(env, "EVALQL_POOL_MAX_OVERFLOW", 10),
            pool_timeout=float(_int(env, "EVALQL_POOL_TIMEOUT", 10)),
            check_tenancy=_flag(env.get("EVALQL_CHECK_TENANCY"), False),
        )
