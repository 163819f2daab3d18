"""What a reader gets offline: answers that read as prose on every bundled question, styles that
differ, and text cleaned of the markup real posts are written in."""

from __future__ import annotations

import statistics

import pytest

from bot.answer.intent import known_acronyms, named_term, not_a_question, unknown_names, unknown_terms
from bot.answer.pipeline import Conversation, answer
from bot.core.events import Cited
from bot.core.markup import plain
from bot.core.paths import QUESTIONS_FILE
from bot.core.text import sentences
from bot.eval.questions import load_questions
from bot.eval.readability import readability_problems

MARKUP = {"html tag", "emphasis marks", "code marks", "latex", "callout", "footnote marker", "markdown heading",
          "markdown link", "list bullet"}
HEADLINE = "Will an AI trained with rewards just want the reward?"


def final(engine, question: str, style: str = "concise") -> Cited:
    settings = engine.settings.model_copy(update={"answer_style": style})
    return next(e for e in answer(question, engine, Conversation(), settings) if isinstance(e, Cited))


def test_every_bundled_question_gets_an_answer_that_reads_as_prose(extractive_engine):
    unreadable = {}
    for item in load_questions(QUESTIONS_FILE):
        cited = final(extractive_engine, item["question"])
        if not cited.abstained and readability_problems(cited.text):
            unreadable[item["id"]] = readability_problems(cited.text)
    assert unreadable == {}


def test_the_headline_question_is_answered_first_without_headings_or_summaries(extractive_engine):
    cited = final(extractive_engine, HEADLINE)
    first = sentences(cited.text)[0]
    assert "reward" in first.lower() and not first.startswith(("Explains", "The model's draft"))
    assert "**" not in cited.text and "?" not in cited.text
    assert len(sentences(cited.text)) >= 2 and all(c.quote for c in cited.citations)


@pytest.mark.parametrize("question", [HEADLINE, "What is wireheading?", "What is shard theory?"])
def test_answer_styles_differ_visibly(extractive_engine, question):
    concise, detailed, beginner = (final(extractive_engine, question, style) for style in ("concise", "detailed", "beginner"))
    assert len(sentences(detailed.text)) > len(sentences(concise.text)) + 1
    assert len(detailed.citations) >= len(concise.citations)
    words = [statistics.mean(len(s.split()) for s in sentences(c.text)) for c in (concise, beginner)]
    assert beginner.text != concise.text or words[1] < words[0]


def test_a_what_is_question_opens_with_what_it_is(extractive_engine):
    first = sentences(final(extractive_engine, "What is shard theory?").text)[0]
    assert first.startswith("Shard theory") and any(verb in first for verb in (" argues ", " is ", " holds "))


@pytest.mark.parametrize("raw, clean", [
    ("Reward <br/>hacking<hr/>is common.", "Reward \nhacking\nis common."),
    ("> [!info] Note\n> The policy $\\pi$ maximises $\\mathbb{E}[R] \\le 1$.", "The policy π maximises E[R] ≤ 1."),
    ("We _**really**_ mean it[^1]. See [the post](https://x.org/a_(b)).", "We really mean it. See the post."),
    ("**Whose volition?** Should the base include everyone?", "Should the base include everyone?"),
    ("## A heading\nText &amp; more, snake_case and 2*3*4.", "Text & more, snake_case and 2*3*4."),
    ("It costs $5 and $10 to run `code`.", "It costs $5 and $10 to run code."),
    ("<h2>Title</h2><p>First.</p><!-- hidden -->", "First."),
])
def test_markup_from_real_posts_is_cleaned_and_latex_stays_readable(raw, clean):
    assert plain(raw) == clean
    assert not MARKUP & set(readability_problems(plain(raw)))


@pytest.mark.parametrize("answer_text, problem", [
    ("The model's draft could not be matched to the sources, so here is what they say directly: X is Y [1].",
     "disclaimer prefix"),
    ("Explains Alex Turner's 2022 argument that reward reinforces computations [2].", "sentence about an article"),
    ("Reward itself: intrinsic or instrumental [3]?", "question or heading as a sentence"),
    ("Agents **want** reward [1].", "emphasis marks"),
    ("Agents want reward <br/> sometimes [1].", "html tag"),
    ("The policy $\\pi$ is greedy [1].", "latex"),
    ("Three reasons: [1]", "list stub"),
])
def test_the_readability_check_catches_what_readers_stumble_on(answer_text, problem):
    assert any(p.startswith(problem) for p in readability_problems(answer_text))
    assert readability_problems("Whether a trained AI ends up wanting reward depends on how it decides [1].") == []


@pytest.mark.parametrize("message, expected", [
    ("hi", "greeting"), ("Good morning!", "greeting"), ("Thanks a lot", "thanks"), ("ok thank you!", "thanks"),
    ("Could you write a haiku about corrigibility?", "not_a_task_we_do"), ("translate this into German", "not_a_task_we_do"),
    ("What is reward hacking?", None), ("Explain wireheading", None), ("Write a summary of shard theory", None),
    ("Hi, what is shard theory?", None), ("Thanks! But why would an AI resist shutdown?", None),
])
def test_greetings_thanks_and_tasks_are_told_from_questions(message, expected):
    reason = not_a_question(message)
    assert (reason and str(reason)) == expected


def test_only_a_plain_what_is_question_must_find_its_name_in_a_passage():
    assert named_term("What is the AI arms race?") == {"ai", "arm", "race"}
    assert named_term("What exactly is a 'shard' supposed to be?") == set()
    assert named_term("What are the different ways a proxy measure can break down when optimized?") == set()
    # A comma-clause describing the name leaves the name to find; "What's" asks the same.
    assert named_term("What is model collapse, where models trained on generated text get worse?") == {"model", "collaps"}
    assert named_term("What's gradient hacking?") == {"gradient", "hack"}


def test_terms_the_library_never_uses_are_told_from_everyday_words(extractive_engine):
    from bot.core.models import common_words

    library, common = extractive_engine.retriever.idf, common_words("bundled")
    assert unknown_terms("roko's basilisk explained", library, common) == ["roko", "basilisk"]
    assert unknown_terms("Isn't a well-behaved model just pretending? What is reward hacking?", library, common) == []
    assert unknown_terms("How many shards should my Elasticsearch index have?", library, common) == ["elasticsearch"]
    assert unknown_terms("roko's basilisk explained", library, frozenset()) == [], "no word list, no guess"
    assert unknown_terms("How many tasks did Redwood's Ctrl-Z evaluation use?", library, common) == [], "written whole"


def test_a_short_question_about_an_acronym_of_the_field_is_answered_not_called_off_topic(extractive_engine):
    """"What do TAI and ELK stand for?" embeds far from every passage; the glossary spells both out."""
    library = extractive_engine.retriever.idf
    assert known_acronyms("what do TAI and ELK stand for?", library) == ["tai", "elk"]
    assert known_acronyms("Is AI dangerous?", library) == [], "in too many passages to name anything"
    assert known_acronyms("Who won the 2018 FIFA World Cup?", library) == []
    cited = final(extractive_engine, "what do TAI and ELK stand for?")
    assert not cited.abstained and "glossary-of-alignment-terms" in {c.doc_id for c in cited.citations}
    assert "transformative AI" in cited.text and "eliciting latent knowledge" in cited.text


def test_a_name_the_library_never_uses_is_told_from_names_it_knows(extractive_engine):
    library = extractive_engine.retriever.idf
    assert unknown_names("Is Karl Friston's free energy principle relevant to AI alignment?", library) == ["Friston"]
    assert unknown_names("How does the Speaker decide who talks in a House of Commons debate?", library) == ["Speaker"]
    # Names the library uses, hyphenated ones whole, and a sentence's first word are not unknown.
    assert unknown_names("What did Paul Christiano and Alex Turner say about infra-Bayesianism?", library) == []
    assert unknown_names("Berlin aside, who funds alignment research?", library) == []
    # Title case capitalises every word: it names nothing by that.
    assert unknown_names("What Is The Speaker Problem In Reward Hacking?", library) == []


def test_a_question_about_someone_the_library_never_names_is_declined_with_sources(extractive_engine):
    """Karl Friston's principle shares "AI alignment" with half the library, and the closest
    passage comes as close as many a real answer's; the library still never names him."""
    cited = final(extractive_engine, "Is Karl Friston's free energy principle relevant to AI alignment?")
    assert cited.abstained and cited.related
    cited = final(extractive_engine, "What did Paul Christiano argue about prosaic alignment?")
    assert not cited.abstained and cited.citations
