"""`python -m ingest.bench`: ingestion speed and memory, measured side by side in one run.

- throughput: the whole pipeline (load, chunk, embed, write to Chroma) in chunks/s, against
  raw `SentenceTransformer.encode` on the very same chunk texts, alternating, medians;
- a no-op re-run of a 150-article corpus against a full re-embed (--rebuild);
- peak memory (max RSS) of a full `python -m ingest` process.
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.core.models import load_embeddings
from bot.core.paths import CORPUS_DIR
from bot.core.settings import Settings
from ingest.indexer import Indexer

ROOT = Path(__file__).resolve().parent.parent


def make_corpus(folder: Path, articles: int) -> None:
    """`articles` Markdown files: the bundled library, repeated under new ids with a marker line."""
    sources = sorted(CORPUS_DIR.glob("*.md"))
    for i in range(articles):
        src = sources[i % len(sources)]
        text = src.read_text(encoding="utf-8")
        copy = i // len(sources)
        if copy:
            text = re.sub(r"^id: (.+)$", rf"id: \1-copy{copy}", text, count=1, flags=re.M)
            text += f"\n\nCopy {copy} of this explainer, for benchmarking.\n"
        (folder / f"{src.stem}-{copy}.md").write_text(text, encoding="utf-8")


def timed_ingest(folder: Path, data_dir: Path, rebuild: bool = False) -> tuple[float, int]:
    indexer = Indexer(Settings(data_dir=data_dir), progress=False)
    if rebuild:
        indexer.rebuild()
    started = time.perf_counter()
    report = indexer.run([folder])
    return time.perf_counter() - started, report.chunks_embedded


def raw_encode(folder: Path, data_dir: Path) -> tuple[float, int]:
    """Encode the same embedded texts the pipeline embeds, with nothing else around it."""
    indexer = Indexer(Settings(data_dir=data_dir), progress=False)
    from ingest.sources import discover, load

    texts = [c.embedded_text(x.article.title) for x in load(discover(folder)) if x.article
             for c in indexer.chunker.chunks(x.article)]
    model = load_embeddings(indexer.settings.embedding_model, indexer.settings.device)._client
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    return time.perf_counter() - started, len(texts)


def peak_rss_of_cli(folder: Path, data_dir: Path) -> float:
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "ingest", "--quiet", str(folder)], cwd=ROOT, env=env, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def wall_of_cli(folder: Path, data_dir: Path) -> float:
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ingest", "--quiet", str(folder)], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "articles"
        folder.mkdir()
        make_corpus(folder, args.articles)
        load_embeddings(Settings().embedding_model, Settings().device)  # load once, outside every timing
        pipeline, raw = [], []
        for i in range(args.repeats):  # alternate, so both see the same machine load
            seconds, chunks = timed_ingest(folder, tmp / f"run{i}")
            pipeline.append(chunks / seconds)
            seconds, n = raw_encode(folder, tmp / f"run{i}")
            raw.append(n / seconds)
        noop = [timed_ingest(folder, tmp / "run0")[0] for _ in range(args.repeats)]
        full = [timed_ingest(folder, tmp / "run0", rebuild=True)[0] for _ in range(args.repeats)]
        noop_cli = [wall_of_cli(folder, tmp / "run0") for _ in range(args.repeats)]
        shutil.rmtree(tmp / "run1", ignore_errors=True)
        peak = peak_rss_of_cli(folder, tmp / "peak")
    p, r = statistics.median(pipeline), statistics.median(raw)
    print(f"### Ingestion ({args.articles} articles, {chunks} chunks; medians of {args.repeats})\n")
    print("| measure | value |\n|---|---|")
    print(f"| pipeline throughput (load + chunk + embed + write) | {p:.1f} chunks/s |")
    print(f"| raw `SentenceTransformer.encode`, same texts | {r:.1f} chunks/s |")
    print(f"| pipeline / raw encoder | {p / r:.0%} (goal ≥ 85%) |")
    print(f"| no-op re-run, in process (`Indexer.run`) | {statistics.median(noop):.2f} s (goal < 3 s) |")
    print(f"| no-op re-run, whole `python -m ingest` process | {statistics.median(noop_cli):.2f} s |")
    print(f"| full re-embed (`--rebuild`), in process | {statistics.median(full):.2f} s |")
    print(f"| peak RSS of a full `python -m ingest` | {peak:.0f} MiB |")


if __name__ == "__main__":
    main()
