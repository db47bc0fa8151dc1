"""What an HTML page of evalql loads: for the tests that check the pages work offline."""

from __future__ import annotations

from html.parser import HTMLParser


class AssetRefs(HTMLParser):
    """<script src> and stylesheet <link href> values, and every other href or src (links,
    images, the inline `data:` icon that spares the browser a /favicon.ico request)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.scripts.append(found["src"] or "")
        elif tag == "link" and found.get("rel") == "stylesheet" and found.get("href"):
            self.styles.append(found["href"] or "")
        elif found.get("href") or found.get("src"):
            self.other.append(found.get("href") or found.get("src") or "")


def refs_of(text: str) -> AssetRefs:
    refs = AssetRefs()
    refs.feed(text)
    return refs
