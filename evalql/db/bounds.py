"""Limits the databases set on the values a statement binds."""

from __future__ import annotations

# Both databases bind OFFSET as a signed 64-bit integer: REST refuses larger offsets in
# query strings (422), and the group queries cap theirs here (any larger offset is past the
# end of every answer anyway, so the page is empty either way).
MAX_OFFSET = 2**63 - 1
