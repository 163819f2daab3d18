"""The answer pipeline end to end on the bundled corpus: citations, abstention, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.answer.intent import asks_for_a_name, sentence_stating_figure, sentence_stating_name
from bot.answer.pipeline import Conversation, answer
from bot.core.events import Cited, Done, Retrieved
from bot.core.types import Passage, Source
from tests.conftest import ROOT, run_cli


def final(events) -> Cited:
    events = list(events)
    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Done)
    return next(e for e in events if isinstance(e, Cited))


def test_extractive_answer_cites_the_article(extractive_engine):
    cited = final(answer("Why do people say an AI that is rewarded is not trying to get reward?", extractive_engine))
    assert not cited.abstained
    assert "reward-is-not-the-optimization-target" in [c.doc_id for c in cited.citations]
    numbers = [c.n for c in cited.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    for c in cited.citations:
        assert f"[{c.n}]" in cited.answer_text and c.quote


def test_article_keeps_its_number_across_a_conversation(extractive_engine):
    conversation = Conversation()
    first = final(answer("What is wireheading?", extractive_engine, conversation))
    second = final(answer("How is it different from reward tampering?", extractive_engine, conversation))
    first_numbers = {c.doc_id: c.n for c in first.citations}
    for c in second.citations:
        if c.doc_id in first_numbers:
            assert c.n == first_numbers[c.doc_id]
    assert len({c.n for c in second.citations}) == len(second.citations)


@pytest.mark.parametrize("question", ["What's a good recipe for banana bread?", "Who won the 2018 World Cup?",
                                      "hi, how are you doing today?"])
def test_off_topic_questions_get_a_polite_redirection(extractive_engine, question):
    cited = final(answer(question, extractive_engine))
    assert cited.abstained and not cited.citations and not cited.related
    assert "only help with questions about AI alignment" in cited.text and cited.reason == "off_topic"


def test_weak_retrieval_on_topic_lists_closest_sources(extractive_engine, corpus_settings):
    # Near the field but not answered by the library: with a stricter relevance bar than the
    # default, the bot says so and lists the closest sources instead of answering.
    strict = corpus_settings.model_copy(update={"min_relevance": 0.5})
    cited = final(answer("What programming language is PyTorch written in?", extractive_engine, settings=strict))
    assert cited.abstained and not cited.citations
    assert "nothing reliable" in cited.text and cited.related and cited.reason == "nothing_relevant"


def test_follow_up_question_retrieves_the_right_article(extractive_engine):
    conversation = Conversation()
    final(answer("What is shard theory?", extractive_engine, conversation))
    events = list(answer("Who came up with it, and when?", extractive_engine, conversation))
    retrieved = next(e for e in events if isinstance(e, Retrieved))
    assert retrieved.passages[0].doc_id.startswith("shard-theory")


def test_a_new_short_question_in_a_chat_is_about_what_it_names(extractive_engine):
    conversation = Conversation()
    final(answer("What is wireheading?", extractive_engine, conversation))
    second = final(answer("What is reward hacking?", extractive_engine, conversation))
    assert second.citations[0].title.startswith("Reward hacking")  # not wireheading again
    third = final(answer("Why?", extractive_engine, conversation))  # this one does lean on the turn before
    assert any("reward hacking" in c.title.lower() for c in third.citations)


def test_metadata_filters(extractive_engine):
    from bot.answer.retrieval import Filters

    only_careers = Filters(tags=("careers",))
    sources = extractive_engine.retriever.search("What should I study?", 5, only_careers)
    assert sources and all("careers" in s.best.tags for s in sources)
    assert extractive_engine.retriever.search("reward", 5, Filters(authors=("Nobody Such",))) == []
    assert extractive_engine.retriever.search("reward", 5, Filters(date_from="2030-01-01")) == []
    assert extractive_engine.retriever.search("reward", 5, Filters(date_to="2026-12-31"))


@pytest.mark.slow
def test_cli_with_the_bundled_llm(corpus_data_dir):
    result = run_cli(["-m", "bot", "ask", "--json", "What is wireheading, and where does the term come from?"],
                     corpus_data_dir, env={"ALIGNCHAT_LLM": "bundled"})
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert set(out) >= {"answer", "citations", "abstained", "timings"}
    assert not out["abstained"]
    assert "wireheading" in [c["doc_id"] for c in out["citations"]]
    for c in out["citations"]:
        assert set(c) >= {"n", "doc_id", "title", "authors", "url", "date", "quote"}
        assert f"[{c['n']}]" in out["answer"]
    assert out["timings"]["total_s"] > 0


def test_cli_text_output_lists_sources(corpus_data_dir):
    result = run_cli(["-m", "bot", "ask", "--llm", "extractive", "What does shard theory say about human values?"],
                     corpus_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Sources:" in result.stdout and "[1]" in result.stdout
    assert "Shard theory" in result.stdout or "shard theory" in result.stdout


def test_cli_in_a_terminal_shows_the_answer_once(corpus_data_dir):
    """Streamed into a terminal (stdout and stderr both on it), the answer is not printed a
    second time when it is done."""
    import pty

    command = [sys.executable, "-m", "bot", "ask", "--llm", "extractive", "What is wireheading?"]
    env = {**os.environ, "ALIGNCHAT_DATA_DIR": str(corpus_data_dir)}
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the program closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    text = screen.decode()
    assert proc.wait(timeout=120) == 0, text[-2000:]
    os.close(leader)
    first = text.split("[1]")[0] + "[1]"  # the first sentence with its marker (quotes have none)
    assert "Sources:" in text and len(first) > 20
    assert text.count(first) == 1, text


def test_missing_data_dir_gives_a_clear_message(tmp_path):
    result = run_cli(["-m", "bot", "ask", "What is wireheading?"], tmp_path / "nowhere")
    assert result.returncode == 2
    assert "python -m ingest" in result.stderr and "Traceback" not in result.stderr


def test_empty_index_gives_a_clear_message(tmp_path):
    empty = tmp_path / "articles"
    empty.mkdir()
    run_cli(["-m", "ingest", str(empty)], tmp_path / "data")
    result = run_cli(["-m", "bot", "ask", "What is wireheading?"], tmp_path / "data")
    assert result.returncode == 2
    assert "empty" in result.stderr and "python -m ingest" in result.stderr and "Traceback" not in result.stderr


def test_a_figure_no_passage_states_is_declined_and_one_it_states_is_answered(extractive_engine):
    """The wireheading article tells of Olds and Milner's rats but never says how many there were;
    the TruthfulQA article does say how many questions the benchmark has, so that question is answered from it."""
    declined = [e for e in answer("How many rats did Olds and Milner test in their 1954 experiment?", extractive_engine)
                if isinstance(e, Cited)][0]
    assert declined.abstained and declined.related
    answered = [e for e in answer("How many questions does the TruthfulQA benchmark contain?", extractive_engine)
                if isinstance(e, Cited)][0]
    assert not answered.abstained and "hallucination-and-truthfulness" in {c.doc_id for c in answered.citations}
    assert "817" in answered.text.split(". ")[0]  # the sentence stating the figure opens the answer
    # Other ways of asking for a figure: the library never gives ARC's phone number; it does give GPT-3's size.
    declined = [e for e in answer("What is the current phone number of the Alignment Research Center?", extractive_engine)
                if isinstance(e, Cited)][0]
    assert declined.abstained and declined.related
    answered = [e for e in answer("What is the parameter count of GPT-3?", extractive_engine) if isinstance(e, Cited)][0]
    assert not answered.abstained and "175" in answered.text


def test_a_title_no_passage_quotes_is_declined_and_one_it_quotes_opens_the_answer(extractive_engine):
    """The Goodhart's law article names Goodhart's 1975 paper but not its title (the quotation in
    the next sentence is Strathern's paraphrase); the wireheading article quotes the 2012 post's title."""
    declined = [e for e in answer("What was the title of Charles Goodhart's 1975 paper?", extractive_engine)
                if isinstance(e, Cited)][0]
    assert declined.abstained and declined.related
    answered = [e for e in answer("What was the title of the 2012 LessWrong post that tried to define wireheading?",
                                  extractive_engine) if isinstance(e, Cited)][0]
    assert not answered.abstained
    assert '"A definition of wireheading"' in answered.text.split(" [1]")[0]


def test_a_name_no_passage_gives_is_declined_and_one_it_gives_opens_the_answer(extractive_engine):
    """The library tells of the CoinRun agent but never says who made the game; it says who vetoed
    SB 1047, in the sentence that opens the answer."""
    declined = [e for e in answer("Who created the CoinRun game?", extractive_engine) if isinstance(e, Cited)][0]
    assert declined.abstained and declined.related
    answered = [e for e in answer("Who vetoed California's SB 1047 bill?", extractive_engine) if isinstance(e, Cited)][0]
    assert not answered.abstained and "Newsom" in answered.text.split(" [1]")[0]


@pytest.mark.parametrize("question, asks", [
    ("Who created the CoinRun game?", True),
    ("Who was the engineer who posted about the test?", True),
    ("Which studio made the boat game, and can I still play it?", True),
    ("besides Tetris, what other NES games did the program learn to play?", True),
    ("In Apollo's tests, which model was the only one that never schemed?", True),
    ("Who is Nick Bostrom and why is he famous?", False),  # about someone named
    ("Who actually came up with the paperclip example, Bostrom or Yudkowsky?", False),  # one of two it gives
    ("Which of these books should I read first?", False),
    ("Who argued for or against the pause letter?", True),  # no choice between names it gives
    ("Why did GPT-3, which is a language model, make things up?", False),
    ("What percentage of games did the policy win?", False),
    ("Are there researchers who think alignment will be easy?", False),
    ("What does TAI stand for, and who came up with it?", False),  # the first question is answered
])
def test_who_and_which_questions_ask_for_a_name(question, asks):
    assert asks_for_a_name(question) is asks


@pytest.mark.parametrize("text, named", [
    ("CoinRun is a platform game. Their agent ran past the coin to the end of the level.", None),
    ("In 2019 the CoinRun game came out, in December.", None),  # a sentence's first word and a month are no names
    ("See \"Goal misgeneralization\" for the CoinRun game and the proposals of Langosco.", None),  # a pointer
    ("Langosco and colleagues trained agents on the CoinRun game.", None),  # names someone, but not who created it
    ("Langosco published a post called \"CoinRun\" about the CoinRun game.", None),  # naming a post is no making
    ("The CoinRun game was created by Karl Cobbe and colleagues.", "Cobbe"),
])
def test_a_name_is_stated_only_by_a_sentence_naming_someone_the_question_does_not(text, named):
    found = sentence_stating_name("Who created the CoinRun game?", [_source("A library article", text)], None,
                                  common={"in", "the", "their", "coinrun"})
    assert (found is None) if named is None else (named in found)


def _source(title: str, text: str) -> Source:
    return Source(doc_id="doc", passages=[Passage(chunk_id="doc:0", doc_id="doc", text=text, title=title)])


@pytest.mark.parametrize("question, text, stated", [
    # "What share" wants a proportion: a year near the words is some other figure.
    ("What percentage of the debate audience voted that AI is a threat?",
     "The debate audience voted in 2023 on whether AI is a threat.", None),
    ("What percentage of the debate audience voted that AI is a threat?",
     "At the end, 67 percent of the debate audience voted that AI is a threat.", "67 percent"),
    # "On what date" wants a day, not a year.
    ("On what date was the open letter on AI risk published?",
     "The open letter on AI risk was published in 2023.", None),
    ("On what date was the open letter on AI risk published?",
     "The open letter on AI risk was published on May 30, 2023.", "May 30"),
    # A number inside a name is no count.
    ("How many programming problems did the control paper use?",
     "The control paper has GPT-4 solve programming problems.", None),
    ("How many programming problems did the control paper use?",
     "The control paper has GPT-4 solve 5000 programming problems.", "5000"),
    # "What value of q" asks for a number: the quantilizer's definition names q but gives none.
    ("What value of q did Taylor recommend for a quantilizer?",
     "Taylor's quantilizer samples an action from the top q fraction of a base distribution.", None),
    ("What value of q did Taylor recommend for a quantilizer?",
     "For a quantilizer, Taylor recommended a q of 0.1 as a start.", "0.1"),
    # "How did X do on Y?" asks for a result: a sentence that only names the benchmark gives none.
    ("How did GPT-4 do on the WMDP benchmark?", "WMDP tests hazardous knowledge, and GPT-4 was studied with it.", None),
    ("How did GPT-4 do on the WMDP benchmark?", "GPT-4 answered 72 percent of the WMDP benchmark questions.", "72"),
    # A figure about the fund in general does not say what it gave a lab the question names.
    ("How much did the Survival Fund give to MIRI in its 2024 round?",
     "The Survival Fund expected its 2024 round to give between $10 and $20 million.", None),
    ("How much did the Survival Fund give to MIRI in its 2024 round?",
     "In its 2024 round the Survival Fund gave MIRI $1.5 million.", "$1.5 million"),
])
def test_a_figure_is_stated_only_in_the_form_asked_about_what_is_named(question, text, stated):
    found = sentence_stating_figure(question, [_source("A library article", text)], None)
    assert (found is None) if stated is None else (stated in found)
