"""`python -m ingest [PATH|URL ...] [--urls FILE]`: add or refresh articles in the index."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.core.identity import canonical_url
from bot.core.index import IndexMissing
from bot.core.models import ModelMissing
from bot.core.paths import CORPUS_DIR
from bot.core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Index articles into the AlignChat library: Markdown (YAML front matter), HTML, "
        "PDF, plain text, Alignment Research Dataset JSONL, and web pages by URL. Re-running is "
        "incremental: unchanged articles are skipped, changed ones replaced, and articles gone "
        "from a re-ingested folder, file or URL list are deleted from the index.",
    )
    parser.add_argument("inputs", nargs="*", metavar="PATH|URL",
                        help=f"files, folders or http(s) URLs (default: {CORPUS_DIR})")
    parser.add_argument("--urls", type=Path, action="append", default=[], metavar="FILE",
                        help="a file of URLs, one a line (# comments allowed)")
    parser.add_argument("--no-prune", action="store_true", help="keep articles missing from a re-ingested source")
    parser.add_argument("--rebuild", action="store_true", help="drop the whole index first and start over")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per URL fetch (default 20)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")

    from ingest.indexer import Indexer
    from ingest.markdown import LoadError
    from ingest.sources import url_source
    from ingest.web import fetch_article, read_url_file

    urls = [i for i in args.inputs if i.startswith(("http://", "https://"))]
    paths = [Path(i) for i in args.inputs if i not in urls]
    sources = [url_source([u], f"url:{canonical_url(u)}") for u in urls]
    try:
        for url_file in args.urls:
            sources.append(url_source(read_url_file(url_file), f"urls:{url_file.resolve()}"))
        indexer = Indexer(Settings(), progress=not (args.quiet or args.json))
        if args.rebuild:
            indexer.rebuild()
        if not (paths or sources):
            paths = [CORPUS_DIR]
        report = indexer.run(paths, sources, prune=not args.no_prune,
                             fetch=lambda url: fetch_article(url, timeout=args.timeout))
    except (LoadError, IndexMissing, ModelMissing, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.summary())
        for failure in report.failed:
            print(f"failed: {failure['path']}: {failure['error']}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
