"""`python -m ingest [PATH ...]`: add or refresh articles in the index."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.config import Settings
from bot.models import ModelMissing

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "articles"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Index Markdown articles (YAML front matter) into the AlignChat library. "
        "Re-running is incremental: unchanged articles are skipped, changed ones replaced, and "
        "articles removed from a re-ingested folder are deleted from the index.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help=f"files or folders (default: {DEFAULT_CORPUS})")
    parser.add_argument("--no-prune", action="store_true", help="keep articles missing from a re-ingested folder")
    parser.add_argument("--rebuild", action="store_true", help="drop the whole index first and start over")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")

    from ingest.indexer import Indexer

    try:
        indexer = Indexer(Settings(), progress=not (args.quiet or args.json))
    except (ModelMissing, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.rebuild:
        indexer.rebuild()
    report = indexer.run(args.paths or [DEFAULT_CORPUS], prune=not args.no_prune)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.summary())
        for failure in report.failed:
            print(f"failed: {failure['path']}: {failure['error']}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
