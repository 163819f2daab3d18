"""`python -m bot ask "QUESTION"`: one answer in the terminal, as text or JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.answer.retrieval import Filters
from bot.core.events import Cited, Done, Failed, Retrieved, Sentence, Thinking, answer_notes
from bot.core.index import IndexMissing
from bot.core.models import ModelMissing
from bot.core.paths import QUESTIONS_FILE
from bot.core.settings import Settings
from bot.core.types import Citation


def format_sources(citations: list[Citation]) -> str:
    lines = []
    for c in citations:
        byline = ", ".join(c.authors)
        meta = " — ".join(x for x in (byline, c.date, c.url) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else ""))
        lines.append(f'    "{c.quote}"')
    return "\n".join(lines)


def ask(question: str, settings: Settings, as_json: bool, filters: Filters = Filters()) -> int:
    from bot.answer.pipeline import Engine, answer

    engine = Engine.open(settings)
    result: dict = {"answer": "", "citations": [], "abstained": False, "timings": {}}
    streamed = thinking_shown = False
    # Each checked sentence is shown as it is ready: in a terminal where the answer stays, so it
    # is read once; when stdout is piped, on stderr, so stdout holds the whole answer only.
    live = sys.stdout if sys.stdout.isatty() else sys.stderr
    retrieved: list = []
    for event in answer(question, engine, filters=filters):
        if isinstance(event, Thinking) and not as_json and not thinking_shown:
            print("(the model is thinking…)", file=sys.stderr, flush=True)
            thinking_shown = True
        elif isinstance(event, Sentence) and not as_json:
            print(event.text, end=" ", file=live, flush=True)
            streamed = True
        elif isinstance(event, Retrieved):
            retrieved = event.passages
        elif isinstance(event, Failed):
            print(f"error: {event.message}", file=sys.stderr)
            titles = list(dict.fromkeys(p.title for p in retrieved))
            if titles:  # what was found is still worth showing
                print("Retrieved sources:\n" + "\n".join(f"- {t}" for t in titles), file=sys.stderr)
            return 1
        elif isinstance(event, Cited):
            result.update(answer=event.text, abstained=event.abstained, fallback=event.fallback,
                          reason=event.reason and str(event.reason), citations=[c.to_json() for c in event.citations],
                          unsupported_sentences=event.unsupported_sentences, quoted_sentences=event.quoted_sentences,
                          related=[c.to_json() for c in event.related])
            cited = event
        elif isinstance(event, Done):
            result["timings"] = {k: round(v, 3) for k, v in event.timings.items()}
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    if streamed:
        print(file=live)
    if not streamed or live is sys.stderr:
        print(cited.text)
    listed = cited.citations or cited.related
    if listed:
        print("\nSources:" if cited.citations else "\nClosest sources:")
        for note in answer_notes(cited):
            print(f"({note})")
        print(format_sources(listed))
    return 0


def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.answer.pipeline import Engine
    from bot.eval.baseline import NaiveBaseline
    from bot.eval.judge import Judge, judge_spec
    from bot.eval.runner import run_evaluation

    spec = judge_spec(args.judge, settings.llm, args.retrieval_only)  # refused before any model loads
    engine = Engine.open(settings, with_llm=not args.retrieval_only)
    judge = Judge.from_spec(spec, settings, engine.llm) if spec is not None else None
    # The baseline reads the same library as the engine, whatever was ingested into it.
    baseline = NaiveBaseline(engine.store.stored_articles(), engine.embeddings) if args.baseline == "naive" else None
    run = run_evaluation(args.questions, engine, retrieval_only=args.retrieval_only, out_dir=args.out,
                         baseline=baseline, compare=args.compare, limit=args.limit, every=args.every,
                         show_bar=not args.json,
                         judge=judge)
    if args.json:
        print(json.dumps(run.summary, indent=2))
        return 0
    print(f"{run.summary['n_questions']} questions")
    for section in ("retrieval", "citations", "answers", "drafts", "abstention", "latency"):
        print(f"{section}: " + ", ".join(f"{k} {v}" for k, v in run.summary[section].items()))
    if run.summary.get("judged"):
        judged = run.summary["judged"]
        print(f"judged by {judged['judge']} (LLM opinions, not measurements): "
              + ", ".join(f"{k} {v}" for k, v in judged.items() if k != "judge"))
    if run.baseline_summary:
        print(f"{run.baseline_summary['name']}: "
              + ", ".join(f"{k} {v}" for k, v in run.baseline_summary["retrieval"].items()))
    if run.report_path:
        print(f"report: {run.report_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="AlignChat: answers about AI alignment, with sources.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask_parser = commands.add_parser("ask", help="answer one question")
    ask_parser.add_argument("question")
    ask_parser.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    ask_parser.add_argument("--llm", help="override ALIGNCHAT_LLM for this run (bundled, extractive, gguf:..., openai:...)")
    ask_parser.add_argument("--style", choices=["concise", "detailed", "beginner"], help="answer style")
    ask_parser.add_argument("--tag", action="append", default=[], help="only articles with this tag (repeatable)")
    ask_parser.add_argument("--author", action="append", default=[], help="only articles by this author")
    ask_parser.add_argument("--source", action="append", default=[], help="only articles from this source")
    ask_parser.add_argument("--since", default="", metavar="YYYY-MM-DD", help="only articles dated on or after")
    ask_parser.add_argument("--until", default="", metavar="YYYY-MM-DD", help="only articles dated on or before")
    ask_parser.add_argument("--verbose", action="store_true")
    eval_parser = commands.add_parser("eval", help="evaluate against a question set")
    eval_parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE, help="JSONL question set")
    eval_parser.add_argument("--retrieval-only", action="store_true", help="skip generation: retrieval metrics only")
    eval_parser.add_argument("--llm", help="override ALIGNCHAT_LLM for this run")
    eval_parser.add_argument("--out", type=Path, help="write results.jsonl, summary.json, report.md and plots here")
    eval_parser.add_argument("--compare", type=Path, metavar="PREVIOUS_DIR", help="add a regression table against an earlier --out")
    eval_parser.add_argument("--baseline", choices=["naive"], help="also run the LangChain tutorial recipe on the same questions")
    eval_parser.add_argument("--judge", metavar="LLM",
                             help="LLM that grades faithfulness and relevance (openai:MODEL or gguf:PATH; `none` to skip); "
                                  "default: the answering LLM when it is a gguf: or openai: model, never the bundled one")
    eval_parser.add_argument("--limit", type=int, help="only the first N questions")
    eval_parser.add_argument("--every", type=int, default=1, metavar="K",
                             help="only every K-th question: a sample spread over the whole set")
    eval_parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    eval_parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "eval":
            return evaluate(args, Settings(**({"llm": args.llm} if args.llm else {})))
        overrides = {k: v for k, v in (("llm", args.llm), ("answer_style", args.style)) if v}
        settings = Settings(**overrides)
        filters = Filters(tuple(args.tag), tuple(args.author), args.since, args.until, tuple(args.source))
        return ask(args.question, settings, args.json, filters)
    except (IndexMissing, ModelMissing, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
