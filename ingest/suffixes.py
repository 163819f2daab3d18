"""The file types ingestion reads, by suffix. A module of its own, so the web app can check an
upload's type without importing the HTML and PDF parsers at start-up."""

from __future__ import annotations

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES: frozenset[str] = MARKDOWN_SUFFIXES | HTML_SUFFIXES | {".pdf", ".txt", ".jsonl"}
