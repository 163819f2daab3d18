"""`python -m bot.eval.ablation`: what each ranking of the retriever contributes, measured.

Runs the retrieval-only evaluation with every variant of the fusion (rankings left out, other
RRF constants) on the same index and questions, and prints hit@5 / MRR@10 overall and on the
even- and odd-numbered answerable questions separately. A choice that only wins on one half
was fitted to those questions; one that wins on both is more likely to carry over to yours.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.answer.pipeline import Engine
from bot.answer.retrieval import RANKINGS, RRF_K
from bot.core.paths import QUESTIONS_FILE
from bot.core.settings import Settings
from bot.eval.metrics import summarize
from bot.eval.questions import load_questions
from bot.eval.runner import evaluate_question

VARIANTS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("all four rankings (default)", RANKINGS, RRF_K),
    ("passage rankings only (dense + passage BM25)", ("dense", "passage_bm25"), RRF_K),
    ("without whole-article BM25", ("dense", "passage_bm25", "field_bm25"), RRF_K),
    ("without title/summary/tags BM25", ("dense", "passage_bm25", "article_bm25"), RRF_K),
    ("without passage BM25", ("dense", "article_bm25", "field_bm25"), RRF_K),
    ("without dense", ("passage_bm25", "article_bm25", "field_bm25"), RRF_K),
    ("dense only", ("dense",), RRF_K),
    ("whole-article BM25 only", ("article_bm25",), RRF_K),
    ("all four, RRF k = 20", RANKINGS, 20),
    ("all four, RRF k = 60", RANKINGS, 60),
)


def _figures(results: list) -> tuple[float | None, float | None]:
    retrieval = summarize(results)["retrieval"]
    return retrieval["hit_at_5"], retrieval["mrr_at_10"]


def ablation(engine: Engine, questions: list[dict[str, Any]]) -> list[tuple[str, dict[str, tuple]]]:
    """Per variant: (hit@5, MRR@10) on all, even and odd answerable questions."""
    retriever = engine.retriever
    saved = retriever.rankings, retriever.rrf_k
    rows = []
    try:
        for name, rankings, rrf_k in tqdm(VARIANTS, desc="ablation", unit="variant"):
            retriever.rankings, retriever.rrf_k = rankings, rrf_k
            results = [evaluate_question(item, engine, retrieval_only=True) for item in questions]
            answerable = [r for r in results if r.answerable]
            rows.append((name, {"all": _figures(answerable), "even": _figures(answerable[0::2]),
                                "odd": _figures(answerable[1::2])}))
    finally:
        retriever.rankings, retriever.rrf_k = saved
    return rows


def markdown(rows: list[tuple[str, dict[str, tuple]]], n_questions: int) -> str:
    lines = [f"### Retrieval ablation ({n_questions} questions; hit@5 / MRR@10)", "",
             "| variant | all answerable | even half | odd half |", "|---|---|---|---|"]
    for name, figures in rows:
        cells = [f"{hit:.4f} / {mrr:.4f}" for hit, mrr in (figures[part] for part in ("all", "even", "odd"))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.eval.ablation", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE, help="JSONL question set")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    questions = load_questions(args.questions)
    engine = Engine.open(Settings(llm="extractive"), with_llm=False)
    print(markdown(ablation(engine, questions), len(questions)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
