"""Every branch of the answer pipeline, driven by a scripted LLM over the real bundled index:
a draft kept, a draft with an invented sentence left out, a draft filled up or replaced by the
sources' sentences, a small model given notes, a reasoning model's thinking, an LLM that fails
mid-answer, abstention, and numbering across turns. In each, what was shown sentence by
sentence is exactly the final answer."""

from __future__ import annotations

import re

import pytest

from bot.answer.pipeline import Conversation, Engine, answer
from bot.core.events import Cited, Done, Failed, Reason, Retrieved, Sentence, Thinking, Token, answer_notes
from bot.core.markers import split_markers
from bot.core.markup import plain
from bot.core.text import sentences
from tests.scripted_llm import Reply, ScriptedLLM

WIREHEADING = "What is wireheading?"
# Faithful, lightly reworded sentences, in three marker styles, one marker after the full stop.
FAITHFUL = (
    "Wireheading is when a system meant to pursue a goal in the world goes straight for the signal "
    "that measures that goal instead [{Wireheading}]. "
    "A 2012 LessWrong post noted that the community had argued about wireheading again and again "
    "without a shared definition of it [Source {Wireheading}]. "
    "Reward tampering is a learning agent interfering with the machinery that produces its reward, "
    "instead of earning reward by doing the task. [{Reward tampering}, {Wireheading}]"
)
INVENTED = "Wireheading was first described by a Portuguese astronomer who catalogued comets in 1820."


@pytest.fixture
def engine_with(extractive_engine):
    """The session's real index and embedding model, answering with the given scripted LLM."""
    def make(llm: ScriptedLLM, **settings_update) -> Engine:
        settings = extractive_engine.settings.model_copy(update={"llm": "openai:scripted", **settings_update})
        return Engine(settings, extractive_engine.retriever, llm)
    return make


def run(engine: Engine, question: str, conversation: Conversation | None = None) -> list:
    return list(answer(question, engine, conversation if conversation is not None else Conversation()))


def cited(events: list) -> Cited:
    """The final answer, after checking that the sentences shown while it was written are it."""
    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Done)
    result = next(e for e in events if isinstance(e, Cited))
    if not result.abstained:
        assert " ".join(e.text for e in events if isinstance(e, Sentence)) == result.answer_text
    return result


def streamed(events: list) -> str:
    """The model's raw stream (shown only as progress)."""
    return "".join(e.text for e in events if isinstance(e, Token))


def in_passages(events: list, answer_text: str) -> bool:
    passages = " ".join(plain(p.text) for p in next(e for e in events if isinstance(e, Retrieved)).passages)
    passages = " ".join(passages.split())
    return all(split_markers(s)[0][:60] in passages for s in sentences(answer_text))


def test_a_supported_draft_is_kept_with_normalised_markers(engine_with):
    llm = ScriptedLLM(FAITHFUL)
    events = run(engine_with(llm), WIREHEADING)
    result = cited(events)
    assert not result.fallback and not result.extracted and result.reason is None
    assert "argued about wireheading again and again without a shared definition" in result.answer_text
    assert [c.title for c in result.citations] == ["Wireheading", "Reward tampering"]
    assert [c.n for c in result.citations] == [1, 2]
    # Every marker style became plain [n]; the marker after the full stop stayed with its sentence.
    assert all(re.fullmatch(r"\[\d+\]", m) for m in re.findall(r"\[[^\]]*\]", result.answer_text))
    # The Wireheading article does not define reward tampering: that citation is dropped, the other kept.
    assert result.answer_text.endswith("by doing the task [2].")
    assert result.supported_sentences == 3 and result.unsupported_sentences == 0
    # What streamed is the draft as written; the prompt numbered the sources it was given.
    assert streamed(events).startswith("Wireheading is when a system")
    assert "Sources:\n[1] " in llm.prompts[0][-1]["content"]


def test_an_invented_sentence_is_left_out_and_counted(engine_with):
    first, rest = FAITHFUL.split("[{Wireheading}]. ", 1)
    draft = f"{first}[{{Wireheading}}]. {INVENTED.removesuffix('.')} [{{Wireheading}}]. {rest}"
    events = run(engine_with(ScriptedLLM(draft)), WIREHEADING)
    result = cited(events)
    assert not result.fallback and result.quoted_sentences == 0
    assert result.unsupported_sentences == 1 and result.supported_sentences == 3
    assert "astronomer" not in result.answer_text, "a claim no source supports is never shown"


def test_a_draft_with_one_good_sentence_keeps_it_and_quotes_the_sources_for_the_rest(engine_with):
    good = FAITHFUL.split("[{Wireheading}]. ")[0] + "[{Wireheading}]. "
    draft = good + "It was outlawed by the Geneva Convention on Robotics in 1977 [{Wireheading}]."
    events = run(engine_with(ScriptedLLM(draft)), WIREHEADING)
    result = cited(events)
    assert result.answer_text.startswith("Wireheading is when a system meant to pursue a goal")
    assert "Geneva" not in result.answer_text and result.unsupported_sentences == 1
    assert not result.fallback and not result.extracted and result.quoted_sentences >= 1
    assert [e.quoted for e in events if isinstance(e, Sentence)][0] is False


def test_a_mostly_invented_draft_is_replaced_by_the_sources_words(engine_with, extractive_engine):
    draft = (f"{INVENTED.removesuffix('.')} [{{Wireheading}}]. The practice was banned by the Geneva "
             "Convention on Robotics in 1977 [{Reward tampering}]. Today every phone ships with a wireheading "
             "detector made by Nokia [{Wireheading}].")
    events = run(engine_with(ScriptedLLM(draft)), WIREHEADING)
    result = cited(events)
    assert result.fallback and result.extracted and result.reason == Reason.DRAFT_UNSUPPORTED
    assert "astronomer" not in result.answer_text and "Geneva" not in result.answer_text
    # The status is a field, not words in the answer: the answer is only the sources' sentences.
    assert in_passages(events, result.answer_text)
    assert result.citations and result.text == result.answer_text
    assert result.quoted_sentences == len(sentences(result.answer_text)) and result.unsupported_sentences == 3


def test_a_small_model_joins_chosen_sentences_from_a_short_prompt(engine_with):
    joined = ". ".join(FAITHFUL.split(". ")[:2]) + "."
    llm = ScriptedLLM(joined, small=True)
    result = cited(run(engine_with(llm), WIREHEADING))
    prompt = llm.prompts[0][-1]["content"]
    assert prompt.startswith("Notes:\n[1] Wireheading") and len(prompt) < 2500
    assert "Wireheading is what happens when a system" in prompt, "the notes are the sources' best sentences"
    assert result.supported_sentences == 2 and not result.quoted_sentences


def test_a_reasoning_block_is_neither_streamed_nor_answered(engine_with):
    thinking = ("<think>The user asks about wireheading. Source {Wireheading} covers it; I should not mention "
                "that I am thinking. Maybe also cite the astronomer?</think>\n\n")
    events = run(engine_with(ScriptedLLM(thinking + FAITHFUL)), WIREHEADING)
    result = cited(events)
    assert "think" not in streamed(events) and "astronomer" not in streamed(events)
    assert streamed(events).startswith("Wireheading is when")
    assert not result.fallback and "think" not in result.answer_text and "astronomer" not in result.answer_text


def test_thinking_split_across_pieces_shows_as_thinking_and_is_timed_before_the_answer(engine_with):
    pieces = ("<thi", "nk>Sources {Wireheading} and {Reward tampering} ", "both fit; the astronomer ",
              "does not.</th", "ink>", "\n\n", FAITHFUL)
    events = run(engine_with(ScriptedLLM(Reply("", pieces=pieces))), WIREHEADING)
    result = cited(events)
    thinking = [e for e in events if isinstance(e, Thinking)]
    assert thinking and thinking[-1].words >= 8, "the page is told the model is thinking, and how far"
    assert events.index(thinking[-1]) < next(i for i, e in enumerate(events) if isinstance(e, Token))
    assert "astronomer" not in streamed(events) and "think" not in streamed(events)
    assert "astronomer" not in result.answer_text and result.supported_sentences == 3
    timings = events[-1].timings
    assert timings["thinking_started_s"] < timings["first_token_s"] < timings["total_s"]


def test_a_reply_that_never_stops_thinking_is_not_an_answer(engine_with):
    events = run(engine_with(ScriptedLLM("<think>Wireheading is when a system goes straight for its reward signal. "
                                         "I will now write the answer")), WIREHEADING)
    result = cited(events)
    assert not any(isinstance(e, Token) for e in events)
    assert result.fallback and result.extracted and in_passages(events, result.answer_text)


def test_citation_forms_other_models_write_are_read_as_sources(engine_with):
    draft = (
        "Wireheading is when a system meant to pursue a goal in the world goes straight for the signal "
        "that measures that goal instead【{Wireheading}†source】. "
        "A 2012 LessWrong post noted that the community had argued about wireheading again and again "
        "without a shared definition of it^{Wireheading}. "
        "Reward tampering is a learning agent interfering with the machinery that produces its reward, "
        "instead of earning reward by doing the task [^{Reward tampering}]. "
        "The name conjures a wire running into the head, connecting the agent to its reward and cutting out the world "
        "(1). "
        "Instead of doing the work that normally earns a reward, it produces the reward directly [Wireheading]."
    )
    result = cited(run(engine_with(ScriptedLLM(draft), answer_style="detailed"), WIREHEADING))
    assert result.supported_sentences == 5 and result.unsupported_sentences == 0
    assert not re.search(r"【|\^|\(1\)|\[Wireheading\]", result.answer_text)
    assert [c.title for c in result.citations] == ["Wireheading", "Reward tampering"]
    assert result.answer_text.count("[1]") == 4 and result.answer_text.count("[2]") == 1


def test_a_model_that_cites_nothing_gets_its_sentences_attributed(engine_with):
    draft = re.sub(r"\s*\[[^\]]*\]", "", FAITHFUL)
    result = cited(run(engine_with(ScriptedLLM(draft)), WIREHEADING))
    assert result.supported_sentences == 3 and not result.fallback
    assert {c.title for c in result.citations} == {"Wireheading", "Reward tampering"}
    assert all(re.search(r"\[\d\]\.$", s) for s in sentences(result.answer_text)), "every sentence cited"


def test_an_llm_failing_mid_answer_keeps_what_was_shown_and_the_sources_finish_it(engine_with):
    conversation = Conversation()
    events = run(engine_with(ScriptedLLM(Reply(FAITHFUL, fail_after=8))), WIREHEADING, conversation)
    assert isinstance(events[0], Retrieved) and events[0].passages
    assert len([e for e in events if isinstance(e, Token)]) == 8
    assert not any(isinstance(e, Failed) for e in events)
    result = cited(events)  # also: what streamed is the answer
    assert result.reason == Reason.LLM_STOPPED and "LLM server" in result.detail
    assert result.citations and result.quoted_sentences >= 1 and result.answer_text
    notes = answer_notes(result)
    assert "stopped before finishing" in notes[0] and "LLM server" in notes[0]
    assert conversation.turns == [(WIREHEADING, result.answer_text)]  # the reader saw an answer: it is history


def test_an_llm_failing_before_it_writes_anything_says_what_to_do(engine_with):
    conversation = Conversation()
    events = run(engine_with(ScriptedLLM(Reply(FAITHFUL, fail_after=0))), WIREHEADING, conversation)
    assert isinstance(events[0], Retrieved) and events[0].passages
    assert isinstance(events[-1], Failed) and "LLM server" in events[-1].message
    assert not any(isinstance(e, Cited) for e in events)
    assert conversation.turns == [] and conversation.numbering == {}  # nothing half-done is remembered


def test_off_topic_questions_never_reach_the_llm(engine_with):
    llm = ScriptedLLM()
    result = cited(run(engine_with(llm), "What's a good recipe for banana bread?"))
    assert result.abstained and result.reason == Reason.OFF_TOPIC and result.answer_text == ""
    assert "only help with questions about AI alignment" in result.text
    assert llm.prompts == []


def test_numbers_are_kept_across_turns_and_the_follow_up_sees_the_history(engine_with):
    follow_up = ("Reward tampering means an agent interferes with the machinery that produces its reward "
                 "instead of doing the task [{Reward tampering}]. Wireheading, an agent seizing its own reward "
                 "channel, is the extreme case of it [{Reward tampering}][{Wireheading}].")
    llm = ScriptedLLM(FAITHFUL, follow_up)
    engine = engine_with(llm)
    conversation = Conversation()
    first = cited(run(engine, WIREHEADING, conversation))
    second = cited(run(engine, "How is it different from reward tampering?", conversation))
    numbers = {c.title: c.n for c in first.citations}
    assert {c.title: c.n for c in second.citations} == {t: numbers[t] for t in ("Reward tampering", "Wireheading")}
    assert second.answer_text.startswith("Reward tampering means") and f"[{numbers['Reward tampering']}]" in second.answer_text
    history = [m["content"] for m in llm.prompts[1][:-1]]
    assert WIREHEADING in history and first.answer_text in history


@pytest.mark.parametrize("message, reason", [
    ("Hello!", Reason.GREETING), ("thanks, that helps", Reason.THANKS),
    ("write me a poem about cats", Reason.NOT_A_TASK_WE_DO), ("Write a poem about reward hacking", Reason.NOT_A_TASK_WE_DO),
])
def test_greetings_thanks_and_tasks_get_a_short_reply_not_an_answer(engine_with, message, reason):
    llm = ScriptedLLM()
    conversation = Conversation()
    result = cited(run(engine_with(llm), message, conversation))
    assert result.abstained and result.reason == reason and not result.related and result.answer_text == ""
    assert "AI alignment" in result.text and llm.prompts == [] and conversation.turns == []


@pytest.mark.parametrize("question", ["What is the free energy principle?", "What is Roko's basilisk?",
                                      "friston free energy ai", "roko's basilisk explained",
                                      "How do I use a clicker to reward my dog for sitting?"])
def test_a_question_about_what_no_passage_names_is_declined_with_the_closest_sources(engine_with, question):
    llm = ScriptedLLM()
    result = cited(run(engine_with(llm), question))
    assert result.abstained and result.reason == Reason.NOTHING_RELEVANT and result.related
    assert llm.prompts == [], "the model is not asked to answer from articles that only share a word"


def test_a_rare_word_in_a_question_the_library_answers_well_does_not_stop_the_answer(extractive_engine):
    # "grad" is neither in the library nor a common word of the model's vocabulary, but the
    # career articles answer the question closely.
    result = cited(run(extractive_engine, "Is it worth spending five or six years in grad school if I want to help make AI safe?"))
    assert not result.abstained and result.citations


def test_a_server_streaming_reasoning_content_shows_thinking_and_answers_only_with_content(engine_with):
    """An OpenAI-compatible server (here a scripted one on loopback) that sends the model's
    thought as `reasoning_content` deltas, the way vLLM, DeepSeek and llama.cpp's server do."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bot.answer.llm import OpenAICompatibleLLM

    deltas = [{"role": "assistant"}, {"reasoning_content": "The astronomer is not in the sources; "},
              {"reasoning_content": "source 1 defines wireheading."}]
    answer = ("Wireheading is when a system meant to pursue a goal in the world goes straight for the signal "
              "that measures that goal instead [1].")
    deltas += [{"content": word} for word in re.findall(r"\S+\s*", answer)]
    deltas += [{"reasoning_content": "A late thought the answer must not show."}]

    class Server(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for delta in deltas:
                self.wfile.write(f"data: {json.dumps({'choices': [{'delta': delta}]})}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        llm = OpenAICompatibleLLM("reasoner", f"http://127.0.0.1:{server.server_address[1]}/v1", "", timeout=10)
        events = run(engine_with(llm), WIREHEADING)
    finally:
        server.shutdown()
    result = cited(events)
    assert any(isinstance(e, Thinking) for e in events)
    assert "astronomer" not in streamed(events) and "late thought" not in streamed(events)
    assert result.answer_text.startswith("Wireheading is when a system") and "astronomer" not in result.answer_text
    assert events[-1].timings["thinking_started_s"] < events[-1].timings["first_token_s"]
