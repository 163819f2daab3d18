"""Identity rules of the index: how articles and chunks are named.

doc_id: an explicit front-matter `id` when the article has one (the bundled library does),
else the canonical URL, else the file path relative to the ingested root.
chunk_id: doc_id + hash of the chunk text, so re-ingesting unchanged text reuses ids.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from bot.core.types import text_hash


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop `www.`, the fragment and a trailing slash; keep the query."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.netloc.lower()
    if host.startswith("www."):
        host = host[4:]
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, host, path, parts.query, ""))


def doc_id_for(explicit_id: str = "", url: str = "", relative_path: str = "") -> str:
    if explicit_id.strip():
        return explicit_id.strip()
    if url.strip():
        return canonical_url(url)
    if relative_path:
        return relative_path.replace("\\", "/")
    raise ValueError("an article needs an id, a URL or a path to be identified")


def chunk_id_for(doc_id: str, text: str, position: int) -> str:
    # The position keeps two identical paragraphs of one article apart.
    return f"{doc_id}#{position}-{text_hash(text)}"
