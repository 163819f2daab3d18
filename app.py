"""`python app.py`: the AlignChat web app. Ingests the bundled corpus first if the index is empty."""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from bot.core.index import IndexMissing, IndexStore  # noqa: E402
from bot.core.models import ModelMissing  # noqa: E402
from bot.core.paths import CORPUS_DIR  # noqa: E402
from bot.core.settings import Settings  # noqa: E402

log = logging.getLogger("app")


def ensure_index(settings: Settings) -> None:
    """First start: build the index from the bundled corpus so the app answers right away."""
    if IndexStore(settings, create=True).count() > 0:
        return
    from ingest.indexer import Indexer

    log.info("the index is empty: ingesting the bundled corpus from %s", CORPUS_DIR)
    report = Indexer(settings, user="app (first start)").run([CORPUS_DIR])
    log.info("%s", report.summary())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the AlignChat web app.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        ensure_index(settings)
        # Uploads and exports stay under the data dir: Gradio reads this when it is imported.
        os.environ["GRADIO_TEMP_DIR"] = str(settings.web_temp_dir.resolve())
        from bot.answer.pipeline import Engine
        from bot.web.access import Access, is_loopback
        from bot.web.loading import LoadingEngine
        from bot.web.page import build_app, launch_options

        # The page is served while the models load; the first answer waits for them if need be.
        engine = LoadingEngine(settings, lambda: Engine.open(settings))
    except (IndexMissing, ModelMissing, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    access = Access.from_settings(settings, args.host)
    if not settings.logins and not is_loopback(args.host):
        log.warning("serving %s without a login: visitors can read and ask, nobody can change the library "
                    "(set ALIGNCHAT_AUTH and ALIGNCHAT_EDITORS to allow editing)", args.host)
    app = build_app(engine, access)
    app.queue(default_concurrency_limit=4).launch(**launch_options(engine, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
