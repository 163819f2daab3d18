"""Pure evaluation metrics: retrieval ranking, answer overlap, citations, latency, and their summary.

Nothing here calls the bot or a model: the runner records what happened for each question in a
`QuestionResult`, and every number below is computed from those recorded fields, so a summary
can be recomputed (or checked by hand) from `results.jsonl` alone.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from bot.core.identity import canonical_url
from bot.core.markers import strip_markers
from bot.core.text import content_words
from bot.eval.readability import readability_problems

RankedArticle = tuple[str, str]
"""(doc_id, url) of one retrieved or cited article."""

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


# --- retrieval ---------------------------------------------------------------------------------


def gold_matches(gold: str, doc_id: str, url: str) -> bool:
    """Whether a gold source names this article.

    Question sets name bundled articles by id but may name outside articles by URL, and an
    article without a front-matter id has its canonical URL as doc_id; so a gold string matches
    the doc_id exactly, or either the doc_id or the URL once both sides are canonicalised
    (`www.`, trailing slash, fragment and host case do not matter).
    """
    gold = gold.strip()
    if not gold:
        return False
    if gold == doc_id:
        return True
    key = canonical_url(gold)
    return any(key == canonical_url(side) for side in (doc_id, url) if side.strip())


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _gains(ranked: Sequence[RankedArticle], gold: Sequence[str], k: int) -> list[int]:
    """Binary relevance of the top k articles, each gold source credited to one article only.

    Crediting a gold source once keeps nDCG at most 1 even if two articles share a gold URL.
    """
    remaining = list(dict.fromkeys(gold))
    gains = []
    for doc_id, url in ranked[:k]:
        hit = next((g for g in remaining if gold_matches(g, doc_id, url)), None)
        if hit is not None:
            remaining.remove(hit)
        gains.append(int(hit is not None))
    return gains


def hit_at_k(ranked: Sequence[RankedArticle], gold: Sequence[str], k: int) -> float | None:
    """1.0 if any of the top k articles is a gold source; None when there is no gold to find."""
    _check_k(k)
    if not gold:
        return None
    return float(any(_gains(ranked, gold, k)))


def recall_at_k(ranked: Sequence[RankedArticle], gold: Sequence[str], k: int) -> float | None:
    """Share of the gold sources found in the top k: multi-article questions need all of them."""
    _check_k(k)
    unique = list(dict.fromkeys(gold))
    if not unique:
        return None
    found = sum(any(gold_matches(g, doc_id, url) for doc_id, url in ranked[:k]) for g in unique)
    return found / len(unique)


def mrr_at_k(ranked: Sequence[RankedArticle], gold: Sequence[str], k: int) -> float | None:
    """Reciprocal rank of the first gold article in the top k (0.0 if none is there)."""
    _check_k(k)
    if not gold:
        return None
    gains = _gains(ranked, gold, k)
    return 1.0 / (gains.index(1) + 1) if 1 in gains else 0.0


def ndcg_at_k(ranked: Sequence[RankedArticle], gold: Sequence[str], k: int) -> float | None:
    """Binary-relevance nDCG: rewards putting all gold articles near the top, not just the first.

    The ideal ranking puts min(len(gold), k) gold articles first.
    """
    _check_k(k)
    unique = list(dict.fromkeys(gold))
    if not unique:
        return None
    dcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(_gains(ranked, unique, k)))
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(unique), k)))
    return dcg / ideal


# --- answers -----------------------------------------------------------------------------------


def answer_tokens(text: str) -> list[str]:
    """SQuAD normalisation: lower-case, drop punctuation (ASCII and Unicode) and articles, split."""
    text = "".join(
        ch for ch in text.lower() if ch not in string.punctuation and not unicodedata.category(ch).startswith("P")
    )
    return _ARTICLES.sub(" ", text).split()


def _f_measure(overlap: int, n_prediction: int, n_reference: int) -> float:
    if overlap == 0:
        return 0.0
    precision, recall = overlap / n_prediction, overlap / n_reference
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: bag-of-words overlap, so wording order does not matter.

    Two empty texts agree (1.0); one empty text scores 0.0.
    """
    pred, ref = answer_tokens(strip_markers(prediction)), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    return _f_measure(sum((Counter(pred) & Counter(ref)).values()), len(pred), len(ref))


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (beta 1) on the same tokens as `token_f1`: rewards keeping the order too."""
    pred, ref = answer_tokens(strip_markers(prediction)), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    return _f_measure(_lcs_length(pred, ref), len(pred), len(ref))


def key_term_coverage(prediction: str, reference: str) -> float | None:
    """Share of the reference's content words (stemmed, stopwords dropped) that the prediction uses.

    Names, years and technical terms carry an answer; this ignores filler that F1 rewards.
    Uses `bot.core.text.content_words`, the citation checker's notion of a content word.
    None when the reference has no content words.
    """
    terms = content_words(reference)
    if not terms:
        return None
    return len(terms & content_words(strip_markers(prediction))) / len(terms)


# --- citations and latency ---------------------------------------------------------------------


def citation_precision_recall(
    cited: Sequence[RankedArticle], gold: Sequence[str]
) -> tuple[float | None, float | None]:
    """(share of cited articles that are gold, share of gold articles cited).

    Precision is None when nothing was cited, recall None when there is no gold.
    """
    precision = (
        sum(any(gold_matches(g, doc_id, url) for g in gold) for doc_id, url in cited) / len(cited) if cited else None
    )
    unique = list(dict.fromkeys(gold))
    recall = (
        sum(any(gold_matches(g, doc_id, url) for doc_id, url in cited) for g in unique) / len(unique)
        if unique
        else None
    )
    return precision, recall


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0 to 100) with linear interpolation, as numpy's default; None if empty."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- per-question results ----------------------------------------------------------------------


@dataclass
class QuestionResult:
    """Everything recorded for one question; one JSON line of `results.jsonl`.

    Generation fields stay None in retrieval-only mode. The metric fields are derived: `score()`
    fills them from the raw fields, and `summarize` recomputes them, so a stale value in a
    resumed file cannot skew a summary.
    """

    id: str
    question: str
    tags: list[str]
    answerable: bool
    gold_sources: list[str]
    ranked: list[RankedArticle]
    retrieval_ms: float
    reference_answer: str = ""
    # generation
    answer: str | None = None
    abstained: bool | None = None
    cited: list[RankedArticle] | None = None
    markers_total: int | None = None
    markers_valid: int | None = None
    sentences_cited: int | None = None
    sentences_supported: int | None = None
    first_token_s: float | None = None
    first_sentence_s: float | None = None  # the first checked sentence on screen
    answer_s: float | None = None
    draft_discarded: bool | None = None  # an LLM's whole draft was replaced by the sources' sentences
    draft_dropped: int | None = None  # the draft's sentences left out as unsupported
    quoted_sentences: int | None = None  # the answer's sentences quoted from the sources
    semantic_similarity: float | None = None
    # opinions of an LLM judge (bot.eval.judge), when one was asked
    judge_faithfulness: float | None = None
    judge_relevance: float | None = None
    # per-question metrics, filled by score()
    hit_at_5: float | None = None
    recall_at_5: float | None = None
    mrr_at_10: float | None = None
    ndcg_at_10: float | None = None
    token_f1: float | None = None
    rouge_l: float | None = None
    key_terms: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    readability: list[str] | None = None  # what a reader would stumble on (bot.eval.readability)

    @property
    def answered(self) -> bool:
        """The bot produced an answer rather than abstaining (False in retrieval-only mode)."""
        return self.answer is not None and not self.abstained

    def score(self) -> QuestionResult:
        """Fill the per-question metric fields from the recorded ones; returns self."""
        gold = self.gold_sources
        self.hit_at_5 = hit_at_k(self.ranked, gold, 5)
        self.recall_at_5 = recall_at_k(self.ranked, gold, 5)
        self.mrr_at_10 = mrr_at_k(self.ranked, gold, 10)
        self.ndcg_at_10 = ndcg_at_k(self.ranked, gold, 10)
        compare = self.answered and bool(self.reference_answer.strip())
        answer = self.answer or ""
        self.token_f1 = token_f1(answer, self.reference_answer) if compare else None
        self.rouge_l = rouge_l(answer, self.reference_answer) if compare else None
        self.key_terms = key_term_coverage(answer, self.reference_answer) if compare else None
        self.readability = readability_problems(answer) if self.answered else None
        self.citation_precision, self.citation_recall = (
            citation_precision_recall(self.cited, gold) if self.cited is not None else (None, None)
        )
        return self

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; article pairs become two-element lists."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["ranked"] = [list(pair) for pair in self.ranked]
        data["cited"] = None if self.cited is None else [list(pair) for pair in self.cited]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuestionResult:
        """Inverse of `to_json`. Unknown keys are ignored so files from newer runners still load."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        for key in ("ranked", "cited"):
            if values.get(key) is not None:
                values[key] = [(str(doc_id), str(url)) for doc_id, url in values[key]]
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(f"not a question result ({exc})") from exc


# --- summaries ---------------------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _mean(values: Iterable[float | None]) -> float | None:
    present = _present(values)
    return _round(sum(present) / len(present)) if present else None


def _ratio(pairs: Iterable[tuple[int | None, int | None]]) -> float | None:
    """Pooled ratio sum(numerators) / sum(denominators): long answers weigh more, as they should."""
    counted = [(n, d) for n, d in pairs if n is not None and d is not None]
    total = sum(d for _, d in counted)
    return _round(sum(n for n, _ in counted) / total) if total else None


def score_all(results: Iterable[QuestionResult]) -> list[QuestionResult]:
    """Freshly scored copies, leaving the caller's objects untouched."""
    return [replace(r).score() for r in results]


def summarize(results: Sequence[QuestionResult], judge: str | None = None) -> dict[str, Any]:
    """Headline numbers for `summary.json`; a value is None where the run did not measure it.

    Retrieval averages over answerable questions; answer metrics and citation recall over
    answerable questions the bot answered (abstaining is counted by `false_abstain_rate`, not
    twice); citation precision over every answer that cited something. `judge` names the LLM
    whose opinions fill the separate `judged` section (None: no judge, `judged` is None).
    """
    scored = score_all(results)
    answerable = [r for r in scored if r.answerable]
    answered = [r for r in answerable if r.answered]
    decided = [r for r in scored if r.abstained is not None]
    return {
        "n_questions": len(scored),
        "retrieval": {
            "hit_at_5": _mean(r.hit_at_5 for r in answerable),
            "recall_at_5": _mean(r.recall_at_5 for r in answerable),
            "mrr_at_10": _mean(r.mrr_at_10 for r in answerable),
            "ndcg_at_10": _mean(r.ndcg_at_10 for r in answerable),
        },
        "citations": {
            "valid_rate": _ratio((r.markers_valid, r.markers_total) for r in scored),
            "precision": _mean(r.citation_precision for r in scored),
            "recall": _mean(r.citation_recall for r in answered),
            "supported_rate": _ratio((r.sentences_supported, r.sentences_cited) for r in scored),
        },
        "answers": {
            "token_f1": _mean(r.token_f1 for r in answered),
            "rouge_l": _mean(r.rouge_l for r in answered),
            "key_terms": _mean(r.key_terms for r in answered),
            "semantic_similarity": _mean(r.semantic_similarity for r in answered),
            "readable_rate": _mean(float(not r.readability) for r in scored if r.answered),
        },
        "drafts": {
            "discarded_rate": _mean(float(r.draft_discarded) for r in scored if r.answered and r.draft_discarded is not None),
            "sentences_dropped": sum(r.draft_dropped or 0 for r in scored),
            "sentences_quoted": sum(r.quoted_sentences or 0 for r in scored),
        },
        "abstention": {
            "accuracy": _mean(float(bool(r.abstained)) for r in decided if not r.answerable),
            "false_abstain_rate": _mean(float(bool(r.abstained)) for r in decided if r.answerable),
            "off_topic_accuracy": _mean(float(bool(r.abstained)) for r in decided if "off-topic" in r.tags),
            "near_miss_accuracy": _mean(float(bool(r.abstained)) for r in decided if "near-miss" in r.tags),
            "unanswerable_accuracy": _mean(float(bool(r.abstained)) for r in decided if "unanswerable" in r.tags),
        },
        "latency": {
            "retrieval_p50_ms": _round(percentile((r.retrieval_ms for r in scored), 50)),
            "retrieval_p95_ms": _round(percentile((r.retrieval_ms for r in scored), 95)),
            "first_token_p50_s": _round(percentile(_present(r.first_token_s for r in scored), 50)),
            "first_sentence_p50_s": _round(percentile(_present(r.first_sentence_s for r in scored), 50)),
            "answer_p50_s": _round(percentile(_present(r.answer_s for r in scored), 50)),
        },
        "judged": None if judge is None else {
            "judge": judge,
            "faithfulness": _mean(r.judge_faithfulness for r in scored if r.answered),
            "relevance": _mean(r.judge_relevance for r in scored if r.answered),
            "answers_judged": sum(r.answered for r in scored),
            "unreadable_verdicts": sum((r.judge_faithfulness is None) + (r.judge_relevance is None)
                                       for r in scored if r.answered),
        },
    }


def summarize_by_tag(results: Sequence[QuestionResult]) -> dict[str, dict[str, Any]]:
    """Per tag (sorted): question count and retrieval quality, to see which topics or types fail."""
    by_tag: dict[str, list[QuestionResult]] = {}
    for result in score_all(results):
        for tag in result.tags:
            by_tag.setdefault(tag, []).append(result)
    return {
        tag: {
            "n": len(group),
            "hit_at_5": _mean(r.hit_at_5 for r in group if r.answerable),
            "mrr_at_10": _mean(r.mrr_at_10 for r in group if r.answerable),
        }
        for tag, group in sorted(by_tag.items())
    }
