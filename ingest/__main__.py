"""`python -m ingest [PATH|URL ...] [--urls FILE]`: add or refresh articles in the index; also the
library's upkeep: remove to and restore from the trash, back up and restore the data dir."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.core.identity import canonical_url
from bot.core.index import IndexDamaged, IndexMissing, set_aside_damaged
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
    parser.add_argument("--limit", type=int, metavar="N",
                        help="at most N articles from each file, folder or URL list (nothing is pruned from it)")
    parser.add_argument("--ard-source", action="append", default=[], metavar="NAME",
                        help="from ARD JSONL files, only records whose `source` is NAME (repeatable; e.g. arxiv, "
                        "lesswrong, alignmentforum); nothing is pruned from them")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per URL fetch (default 20)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    upkeep = parser.add_argument_group("upkeep (instead of ingesting)").add_mutually_exclusive_group()
    upkeep.add_argument("--remove", metavar="ID", help="move an article to the trash")
    upkeep.add_argument("--trash", action="store_true", help="list the trash")
    upkeep.add_argument("--restore", metavar="ID", help="put an article back from the trash")
    upkeep.add_argument("--purge", metavar="ID", help="delete an article from the trash for good")
    upkeep.add_argument("--backup", type=Path, metavar="DIR", help="back up the whole data dir to a new folder")
    upkeep.add_argument("--restore-backup", type=Path, metavar="DIR",
                        help="make the data dir what a backup holds (the replaced state is backed up first)")
    upkeep.add_argument("--audit", type=int, nargs="?", const=20, metavar="N",
                        help="show the last N library changes (default 20)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    maintenance = (args.remove, args.trash or None, args.restore, args.purge, args.backup, args.restore_backup,
                   args.audit)
    if any(m is not None for m in maintenance):
        if args.inputs or args.urls or args.rebuild:
            parser.error("an upkeep option goes alone, without articles to ingest or --rebuild")
        return _upkeep(args)

    from ingest.indexer import DiskFull, Indexer
    from ingest.markdown import LoadError
    from ingest.sources import url_source
    from ingest.web import fetch_article, read_url_file

    urls = [i for i in args.inputs if i.startswith(("http://", "https://"))]
    paths = [Path(i) for i in args.inputs if i not in urls]
    sources = [url_source([u], f"url:{canonical_url(u)}") for u in urls]
    try:
        for url_file in args.urls:
            sources.append(url_source(read_url_file(url_file), f"urls:{url_file.resolve()}"))
        settings = Settings()
        try:
            indexer = Indexer(settings, progress=not (args.quiet or args.json))
        except IndexDamaged:
            if not args.rebuild:
                raise
            set_aside_damaged(settings)  # kept, not deleted; the rebuild starts from an empty index
            indexer = Indexer(settings, progress=not (args.quiet or args.json))
        if args.rebuild:
            indexer.rebuild()
        if not (paths or sources):
            paths = [CORPUS_DIR]
        if args.limit is not None and args.limit < 1:
            raise ValueError(f"--limit must be 1 or more (got {args.limit})")
        report = indexer.run(paths, sources, prune=not args.no_prune,
                             fetch=lambda url: fetch_article(url, timeout=args.timeout), limit=args.limit,
                             ard_sources=frozenset(args.ard_source))
    except (LoadError, IndexMissing, ModelMissing, ValueError, DiskFull) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.summary())
        for failure in report.failed:
            print(f"failed: {failure['path']}: {failure['error']}", file=sys.stderr)
    return 1 if report.failed else 0


def _upkeep(args: argparse.Namespace) -> int:
    """One trash, backup or audit action; the outcome as a line (or JSON with --json)."""
    from bot.core.audit import AuditLog, cli_user
    from bot.core.index import IndexStore
    from ingest.backup import backup, restore
    from ingest.trash import Trash, TrashError

    settings, user = Settings(), cli_user()
    trash = Trash(settings)
    out: object
    try:
        if args.trash:
            items = trash.entries()
            out = [{"doc_id": t.doc_id, "title": t.title, "chunks": t.chunks, "removed_at": t.removed_at,
                    "removed_by": t.removed_by} for t in items]
            text = "\n".join(f"{t.doc_id}\t{t.title}\t{t.chunks} passages\tremoved {t.removed_at} by {t.removed_by}"
                             for t in items) or "The trash is empty."
        elif args.audit is not None:
            out = AuditLog(settings.audit_file).entries()[-args.audit:] if args.audit > 0 else []
            text = "\n".join(json.dumps(e, ensure_ascii=False) for e in out) or "No library changes recorded yet."
        elif args.backup or args.restore_backup:
            if args.backup:
                info = backup(settings, args.backup, user, progress=not (args.quiet or args.json))
                text = f"Backed up {info.articles} articles ({info.chunks} passages) to {info.path}."
            else:
                info, safety = restore(settings, args.restore_backup, user, progress=not (args.quiet or args.json))
                text = (f"Restored {info.articles} articles ({info.chunks} passages) from the backup of {info.created}."
                        + (f" The replaced state is backed up in {safety.path}." if safety else ""))
            out = {"path": str(info.path), "chunks": info.chunks, "articles": info.articles, "message": text}
        else:
            store = IndexStore(settings, create=True)
            if args.remove:
                done = trash.remove(store, args.remove, user)
                if done is None:
                    raise TrashError(f"{args.remove!r} is not in the library: the web app's Library tab shows each "
                                     "article's Id, and `--trash` lists what was already removed")
                text = f"Moved {done.doc_id} ({done.chunks} passages) to the trash; `--restore {done.doc_id}` puts it back."
            elif args.restore:
                done = trash.restore(store, args.restore, user)
                text = f"Restored {done.doc_id} ({done.chunks} passages) from the trash."
            else:
                done = trash.purge(args.purge, user)
                text = f"Deleted {done.doc_id} from the trash for good."
            out = {"doc_id": done.doc_id, "title": done.title, "chunks": done.chunks, "message": text}
    except (ValueError, IndexMissing, OSError) as exc:  # TrashError, BackupError, a damaged backup file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2, ensure_ascii=False) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
