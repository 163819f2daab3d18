"""Citation post-processing on hand-made answers: marker variants, invalid markers, support."""

from __future__ import annotations

from bot.answer.citations import Checker, check
from bot.core.markers import split_markers
from bot.core.types import Passage, Source


def source(doc_id: str, title: str, text: str) -> Source:
    return Source(doc_id, [Passage(chunk_id=f"{doc_id}#0", doc_id=doc_id, text=text, title=title)])


SOURCES = [
    source("wireheading", "Wireheading",
           "Wireheading is when an agent seizes its own reward signal instead of pursuing the goal. "
           "Olds and Milner found in 1954 that rats pressed a lever to stimulate their brains."),
    source("goodhart", "Goodhart's law",
           "Goodhart's law says that a measure which becomes a target stops being a good measure. "
           "Manheim and Garrabrant described regressional, extremal, causal and adversarial variants."),
    source("corrigibility", "Corrigibility",
           "A corrigible agent lets its operators shut it down, correct it or change its goals."),
]


def test_marker_variants_are_normalised():
    for raw, expected in [
        ("Text [1, 3].", [1, 3]), ("Text [1][3].", [1, 3]), ("Text [(2)].", [2]),
        ("Text [Source 2].", [2]), ("Text [1-3].", [1, 2, 3]), ("Text [2; 1].", [2, 1]),
    ]:
        assert split_markers(raw)[1] == expected, raw


def test_numbered_by_first_citation_and_invalid_markers_removed():
    answer = ("Goodhart's law says a measure that becomes a target stops being a good measure [2]. "
              "Wireheading is an agent seizing its own reward signal [1][7]. "
              "Manheim and Garrabrant described four variants, including extremal and adversarial [(2)].")
    checked = check(answer, SOURCES, {})
    assert [c.doc_id for c in checked.citations] == ["goodhart", "wireheading"]
    assert [c.n for c in checked.citations] == [1, 2]
    assert "[7]" not in checked.text
    assert checked.text.count("[1]") == 2 and checked.text.count("[2]") == 1
    assert checked.citations[0].quote in SOURCES[1].best.text


def test_unsupporting_citation_dropped_and_uncited_sentence_attributed():
    answer = ("Rats pressed a lever to stimulate their brains in the 1954 experiments by Olds and Milner [3]. "
              "A corrigible agent lets its operators shut it down or change its goals.")
    checked = check(answer, SOURCES, {})
    cited = {c.doc_id for c in checked.citations}
    assert cited == {"wireheading", "corrigibility"}
    assert checked.unsupported_sentences == 0


def test_unsupported_sentences_are_counted():
    answer = "The moon landing happened in 1969 with Apollo eleven astronauts [1]. Bananas are rich in potassium."
    checked = check(answer, SOURCES, {})
    assert checked.citations == []
    assert checked.unsupported_sentences == 2


def test_numbers_persist_across_a_conversation():
    numbering = {"corrigibility": 1}
    checked = check("Goodhart's law says a measure that becomes a target stops being a good measure [2]. "
                    "A corrigible agent lets its operators shut it down [3].", SOURCES, numbering)
    assert {c.doc_id: c.n for c in checked.citations} == {"corrigibility": 1, "goodhart": 2}
    assert numbering == {"corrigibility": 1}, "the caller's map is only replaced when the answer is kept"
    assert checked.numbering == {"corrigibility": 1, "goodhart": 2}


def test_repeated_sentences_are_said_once():
    sentence = "Wireheading is an agent seizing its own reward signal [1]."
    checked = check(f"{sentence} {sentence} {sentence}", SOURCES, {})
    assert checked.text.count("Wireheading") == 1


def test_a_number_the_source_does_not_state_loses_the_support_of_its_words():
    checked = check("Olds and Milner found in 1957 that rats pressed a lever to stimulate their brains [1].", SOURCES, {})
    assert checked.unsupported_sentences == 1 and checked.citations == []
    assert check("Olds and Milner found in 1954 that rats pressed a lever to stimulate their brains [1].",
                 SOURCES, {}).supported_sentences == 1


def test_a_drafts_questions_fragments_and_title_echoes_are_not_shown():
    checker = Checker(SOURCES, {}, drop_unsupported=True)
    assert checker.add("Does wireheading mean an agent seizes its own reward signal [1]?") is None
    assert checker.add("Goodhart's law: the variants of Manheim and Garrabrant [2]") is None
    assert checker.add("For instance:") is None
    kept = checker.add("Wireheading Wireheading is when an agent seizes its own reward signal instead of the goal [1].")
    assert kept is not None and kept.text.startswith("Wireheading is when") and kept.supported
    assert checker.unsupported == 3 and checker.result().text == kept.text
