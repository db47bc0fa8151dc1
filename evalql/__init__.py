"""evalql: compare LLM experiment sessions on the same dataset examples, grouped by metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evalql")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
