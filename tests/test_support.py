"""The citation verifier on the labelled claim/passage pairs of tests/data/support_pairs.jsonl,
with the real embedding model: a paraphrase a capable model writes is kept, and a claim with a
name, number or negation changed, or one taken from another article, is not."""

from __future__ import annotations

import collections

import pytest

from bot.answer.support import Verifier
from bot.core.markup import plain
from bot.core.text import sentences
from bot.eval.support import SUPPORTED_KINDS, evaluate, load_pairs

PAIRS = load_pairs()


@pytest.fixture(scope="module")
def verifier(extractive_engine) -> Verifier:
    return extractive_engine.verifier


def test_the_labelled_set_covers_every_kind_of_claim_from_the_bundled_library():
    kinds = collections.Counter(p["kind"] for p in PAIRS)
    assert len(PAIRS) >= 300 and len({p["id"] for p in PAIRS}) == len(PAIRS)
    assert set(kinds) == {"paraphrase", "copy", "entity", "number", "negation", "direction", "foreign", "filler"}
    assert min(kinds.values()) >= 30
    from tests.conftest import CORPUS
    for p in PAIRS:
        assert p["passage"] in (CORPUS / f"{p['doc_id']}.md").read_text(encoding="utf-8"), p["id"]
        assert (p["label"] == "supported") == (p["kind"] in SUPPORTED_KINDS), p["id"]
        assert len(sentences(p["claim"])) == 1, p["id"]


def test_the_verifier_keeps_paraphrase_and_rejects_far_more_inventions_than_word_overlap(verifier, extractive_engine):
    result = evaluate(verifier, extractive_engine.retriever.idf, PAIRS)
    held_out, before = result["verifier"]["odd (held out)"], result["word overlap"]["odd (held out)"]
    # Floors a regression would break (the figures themselves are in BENCHMARKS.md).
    assert held_out["supported_kept"] >= 0.85
    assert held_out["unsupported_rejected"] >= 0.68 and held_out["unsupported_rejected"] > before["unsupported_rejected"] + 0.15
    for kind in ("entity", "number"):
        assert result["verifier"]["all"]["by_kind"][kind]["judged_supported"] <= 0.15, kind
    assert result["verifier"]["all"]["by_kind"]["copy"]["judged_supported"] == 1.0


@pytest.mark.parametrize("claim, supported, reason", [
    ("In 1954 at McGill, Olds and Milner wired electrodes into rats' brains and let the animals press a lever "
     "that sent current through them.", True, ""),
    ("In 1962 at McGill, Olds and Milner wired electrodes into rats' brains and let the animals press a lever "
     "that sent current through them.", False, "number"),
    ("In 1954 at McGill, Skinner wired electrodes into rats' brains and let the animals press a lever "
     "that sent current through them.", False, "name"),
    ("Proxies stay reliable under strong optimisation pressure, so a measure can safely become a target.", False, "far"),
])
def test_one_changed_fact_is_enough_to_reject_a_claim(verifier, extractive_engine, claim, supported, reason):
    passage = plain(next(p["passage"] for p in PAIRS if "James Olds and Peter Milner implanted" in p["passage"]))
    verdict = verifier.judge(claim, [passage], extractive_engine.retriever.idf)
    assert verdict.supported is supported and verdict.reason == reason, verdict


@pytest.mark.parametrize("pair_id, reason", [
    ("b-reward-button-alignment-4", "negation"),  # "would not bother to secure its supply of reward"
    ("b-rlhf-limitations-5", "negation"),  # "does not count reward hacking among the fundamental problems"
    ("b-model-based-rl-and-reward-maximization-5", "direction"),  # "the less the agent tends to exploit"
    ("b-mesa-optimization-5", "negation"),  # "the goals we pursue are not inclusive genetic fitness", "not" dropped
])
def test_a_claim_flipping_the_sentences_it_restates_is_rejected(verifier, extractive_engine, pair_id, reason):
    """What counts is the sentences the claim restates: the first two passages hold a "not" in
    other sentences, which used to let a newly negated claim through."""
    pair = next(p for p in PAIRS if p["id"] == pair_id)
    assert pair["label"] == "unsupported"
    verdict = verifier.judge(pair["claim"], [plain(pair["passage"])], extractive_engine.retriever.idf)
    assert not verdict.supported and verdict.reason == reason, verdict


@pytest.mark.parametrize("claim, supported", [
    ("They found that a simple difference-of-means probe identified directions that were more causally relevant "
     "than those of some fancier methods.", True),
    # The two sides of the "than" swapped: the opposite finding.
    ("They found that some fancier methods identified directions that were more causally relevant "
     "than those of a simple difference-of-means probe.", False),
    # Swapped and turned round ("less ... than"): the same finding again.
    ("They found that some fancier methods identified directions that were less causally relevant "
     "than those of a simple difference-of-means probe.", True),
])
def test_a_comparison_made_the_other_way_round_is_rejected(verifier, extractive_engine, claim, supported):
    pair = next(p for p in PAIRS if "difference-of-means probe identified" in p["passage"])
    verdict = verifier.judge(claim, [plain(pair["passage"])], extractive_engine.retriever.idf)
    assert verdict.supported is supported and verdict.reason in ("", "direction"), verdict
