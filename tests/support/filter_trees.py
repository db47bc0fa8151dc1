"""Random filter strings for the oracle tests: and/or/not trees over given leaves."""

from __future__ import annotations

from hypothesis import strategies as st


def trees(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda xs: f"and({', '.join(xs)})", st.lists(inner, min_size=1, max_size=4)),
            st.builds(lambda xs: f"or({', '.join(xs)})", st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda x: f"not({x})", inner),
        ),
        max_leaves=8,
    )
