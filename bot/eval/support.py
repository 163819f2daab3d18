"""How well the citation verifier tells support from invention, on labelled claim/passage pairs.

Each pair in tests/data/support_pairs.jsonl is a claim about one passage of the bundled library:
a faithful paraphrase or a copy (supported), or the same with a name, number, negation or
direction of effect changed, a claim from a neighbouring article, or generic filler
(unsupported). The verifier's thresholds were tuned on the even-numbered pairs; the odd ones
were not looked at, so their figures say how it does on claims it has not seen. The word-overlap
rule it replaced is scored beside it.

    python -m bot.eval.support [--json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.answer.citations import check
from bot.answer.support import Verifier
from bot.core.markup import plain
from bot.core.paths import PROJECT_ROOT
from bot.core.text import WordRarity
from bot.core.types import Passage, Source

PAIRS_FILE = PROJECT_ROOT / "tests" / "data" / "support_pairs.jsonl"
SUPPORTED_KINDS = frozenset({"paraphrase", "copy"})


def load_pairs(path: Path = PAIRS_FILE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(pairs: list[dict[str, Any]], supports: Callable[[str, str], bool]) -> dict[str, Any]:
    """Share of supported pairs kept and of unsupported pairs rejected, overall and by kind."""
    by_kind: dict[str, list[bool]] = {}
    for pair in pairs:
        by_kind.setdefault(pair["kind"], []).append(supports(pair["claim"], plain(pair["passage"])))
    kept = [v for k, vs in by_kind.items() if k in SUPPORTED_KINDS for v in vs]
    rejected = [not v for k, vs in by_kind.items() if k not in SUPPORTED_KINDS for v in vs]
    return {
        "pairs": len(pairs),
        "supported_kept": round(sum(kept) / len(kept), 4),
        "unsupported_rejected": round(sum(rejected) / len(rejected), 4),
        "by_kind": {k: {"n": len(vs), "judged_supported": round(sum(vs) / len(vs), 4)} for k, vs in sorted(by_kind.items())},
    }


def word_overlap(idf: WordRarity | None) -> Callable[[str, str], bool]:
    """The rule the verifier replaced, run as the citation check still runs it without one: half
    the claim's content words (by rarity) in the passage, and each of its digits written there."""
    def supports(claim: str, passage: str) -> bool:
        source = Source("pair", [Passage(chunk_id="pair#0", doc_id="pair", text=passage, title="")])
        return check(f"{claim} [1]", [source], {}, idf).supported_sentences == 1
    return supports


def evaluate(verifier: Verifier, idf: WordRarity | None, pairs: list[dict[str, Any]]) -> dict[str, Any]:
    halves = {"all": pairs, "even (tuned on)": pairs[0::2], "odd (held out)": pairs[1::2]}
    rules = {"verifier": lambda c, p: verifier.judge(c, [p], idf).supported, "word overlap": word_overlap(idf)}
    return {rule: {half: score(subset, judge) for half, subset in halves.items()} for rule, judge in rules.items()}


def main(argv: list[str] | None = None) -> int:
    from bot.answer.pipeline import Engine
    from bot.core.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m bot.eval.support", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS_FILE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engine = Engine.open(Settings(), with_llm=False)
    result = evaluate(engine.verifier, engine.retriever.idf, load_pairs(args.pairs))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for rule, halves in result.items():
        for half, s in halves.items():
            kinds = ", ".join(f"{k} {v['judged_supported']:.2f}" for k, v in s["by_kind"].items())
            print(f"{rule:12s} {half:16s} n={s['pairs']:3d}  supported kept {s['supported_kept']:.3f}  "
                  f"unsupported rejected {s['unsupported_rejected']:.3f}  (judged supported: {kinds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
