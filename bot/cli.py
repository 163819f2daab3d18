"""`python -m bot ask "QUESTION"`: one answer in the terminal, as text or JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from bot.config import Settings
from bot.models import ModelMissing
from bot.schema import Cited, Citation, Done, Failed, Token
from bot.store import IndexMissing


def format_sources(citations: list[Citation]) -> str:
    lines = []
    for c in citations:
        byline = ", ".join(c.authors)
        meta = " — ".join(x for x in (byline, c.date, c.url) if x)
        lines.append(f"[{c.n}] {c.title}" + (f" ({meta})" if meta else ""))
        lines.append(f'    "{c.quote}"')
    return "\n".join(lines)


def ask(question: str, settings: Settings, as_json: bool) -> int:
    from bot.pipeline import Engine, answer

    engine = Engine(settings)
    result: dict = {"answer": "", "citations": [], "abstained": False, "timings": {}}
    streamed = False
    for event in answer(question, engine):
        if isinstance(event, Token) and not as_json:
            # Stream the draft on stderr, so stdout stays the verified answer only.
            print(event.text, end="", file=sys.stderr, flush=True)
            streamed = True
        elif isinstance(event, Failed):
            print(f"error: {event.message}", file=sys.stderr)
            return 1
        elif isinstance(event, Cited):
            result.update(answer=event.answer_text, abstained=event.abstained,
                          citations=[c.to_json() for c in event.citations],
                          unsupported_sentences=event.unsupported_sentences,
                          related=[c.to_json() for c in event.related])
            cited = event
        elif isinstance(event, Done):
            result["timings"] = {k: round(v, 3) for k, v in event.timings.items()}
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    if streamed:
        print(file=sys.stderr)
    print(cited.answer_text)
    listed = cited.citations or cited.related
    if listed:
        print("\nSources:" if cited.citations else "\nClosest sources:")
        print(format_sources(listed))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="AlignChat: answers about AI alignment, with sources.")
    commands = parser.add_subparsers(dest="command", required=True)
    ask_parser = commands.add_parser("ask", help="answer one question")
    ask_parser.add_argument("question")
    ask_parser.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    ask_parser.add_argument("--llm", help="override ALIGNCHAT_LLM for this run (bundled, extractive, gguf:..., openai:...)")
    ask_parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings(**({"llm": args.llm} if args.llm else {}))
        return ask(args.question, settings, args.json)
    except (IndexMissing, ModelMissing, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
