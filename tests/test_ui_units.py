"""The web app's parts below the page: escaping, feedback records, export, upload checks,
backend choices and evaluation-run bookkeeping. The browser tests cover the page itself."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pydantic import ValidationError

from bot.core.events import MESSAGES, Cited, Reason
from bot.core.index import ArticleInfo
from bot.core.settings import Settings
from bot.core.types import Citation, Reference
from bot.web.export import answer_markdown, conversation_markdown
from bot.web.feedback import FeedbackLog, questions_from_feedback
from bot.web.library import UploadRejected, parse_urls, safe_name, save_upload, search_articles
from bot.web.render import answer_html, article_url, link_markers, notice_html, partial_html, safe_url, sources_block
from bot.web.session import ChatSession, Turn

HOSTILE = Citation(
    n=1, doc_id="evil", title='Reward <script>alert(1)</script>', authors=("<b>Mallory</b>",),
    url="javascript:alert(2)", date="2024-01-01", quote='He said <img src=x onerror="alert(3)"> [click](javascript:alert(4))',
    references=(Reference("Paper <i>x</i>", ("A",), 2020, "javascript:alert(5)"),),
)
LINKED = Citation(n=2, doc_id="ok", title="A & B", authors=(), url="https://example.org/post", date="",
                  quote="Reward is not the optimization target, says the post.")


# --- rendering ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("https://example.org/a", "https://example.org/a"),
    ("  http://example.org  ", "http://example.org"),
    ("JavaScript:alert(1)", ""),
    ("data:text/html,<script>alert(1)</script>", ""),
    ("//evil.example/x", ""),
    ("http://[::1", ""),
])
def test_only_http_urls_are_safe(url, expected):
    assert safe_url(url) == expected


def test_document_text_is_escaped_and_unsafe_links_are_not_rendered():
    cited = Cited("Claim <b>one</b> [1]. Claim two [2]. Bogus [7].", [HOSTILE, LINKED])
    page = answer_html(cited, anchor="turn3-source")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "<b>one</b>" not in page and "<b>Mallory</b>" not in page and "<i>x</i>" not in page
    assert "javascript:" not in page.replace("[click](javascript:alert(4))", "")  # only as escaped quote text
    assert 'href="javascript' not in page
    assert 'id="turn3-source-1"' in page
    assert '<a href="https://example.org/post#:~:text=' in page and 'rel="noopener noreferrer"' in page
    assert "[7]" not in page  # a marker without a source is dropped
    assert "A &amp; B" in page


def test_markers_and_titles_open_the_cited_passage_in_the_app_and_web_articles_keep_their_page():
    text = link_markers("One [1], two [2].", [HOSTILE, LINKED])
    assert ('<a href="article/evil?quote=He%20said%20%3Cimg%20src%3Dx%20onerror%3D%22alert%283%29%22%3E%20%5Bclick%5D'
            '%28javascript%3Aalert%284%29%29#cited" target="_blank" rel="noopener" '
            'title="Reward &lt;script&gt;alert(1)&lt;/script&gt;">[1]</a>') in text
    assert '<a href="article/ok?quote=Reward%20is%20not%20the%20optimization%20target%2C%20says%20the%20post.#cited"' in text
    assert "https://" not in text
    block = sources_block([HOSTILE, LINKED])
    assert '<a href="article/evil?quote=' in block and '<a href="article/ok?quote=' in block
    assert block.count("original ↗") == 1  # only the web article has a page of its own
    assert '<a href="https://example.org/post#:~:text=Reward%20is%20not%20the%20optimization%20target' in block
    assert article_url(Citation(3, "https://example.org/p?x=1#y", "t", (), "", "", "a b")) == \
        "article/https%3A%2F%2Fexample.org%2Fp%3Fx%3D1%23y?quote=a%20b#cited"  # any doc_id is one path segment


def test_abstention_lists_the_closest_sources_and_drafts_and_notices_are_escaped():
    page = answer_html(Cited("", [], abstained=True, reason=Reason.NOTHING_RELEVANT, related=[LINKED]))
    assert "Closest sources (1)" in page and 'class="answer abstained"' in page
    assert page.index(MESSAGES[Reason.NOTHING_RELEVANT].split(",")[0]) < page.index("Closest sources")
    partial = partial_html("<script>x</script> checked [1].", [HOSTILE], 12)
    assert "&lt;script&gt;" in partial and "[1]</a>" in partial and "12 words drafted" in partial
    assert notice_html("<b>down</b>") == '<p class="notice">⚠ &lt;b&gt;down&lt;/b&gt;</p>'
    assert sources_block([]) == ""


def test_an_answer_in_the_sources_words_says_so_in_its_sources_block_not_in_the_answer():
    cited = Cited("Reward is not the optimization target, says the post [2].", [LINKED], fallback=True, extracted=True,
                  reason=Reason.DRAFT_UNSUPPORTED)
    page = answer_html(cited)
    body, sources = page.split('<details class="sources">')
    assert body.startswith('<div class="answer"><p>Reward is not the optimization target')
    assert "quotes the sources directly, because the model&#x27;s draft could not be matched" in sources
    assert "could not be matched" not in body
    assert "could not be matched" not in answer_html(Cited(cited.answer_text, [LINKED]))
    cited.unsupported_sentences = 3  # one note, not a second one counting what was left out
    assert "because no source supports the 3 sentences the model drafted.</" in answer_html(cited)
    assert "left out" not in answer_html(cited)


def test_the_sources_block_says_which_sentences_are_quoted_and_what_was_left_out():
    mixed = answer_html(Cited("The model's sentence [1]. A quoted one [1].", [LINKED], quoted_sentences=1,
                              unsupported_sentences=2, supported_sentences=2))
    body, sources = mixed.split('<details class="sources">')
    assert "The last sentence quotes the sources directly; 2 sentences of the model&#x27;s draft were left out " \
           "because no source supports them." in sources
    assert "left out" not in body and "quote the sources" not in body


# --- feedback and export --------------------------------------------------------------------------------


def _session() -> ChatSession:
    session = ChatSession()
    session.turns.append(Turn("What is reward hacking?", "It is gaming the reward [1].", [LINKED]))
    session.turns.append(Turn("And wireheading?", "Tampering with the reward channel [1][2].", [LINKED, HOSTILE]))
    return session


def test_votes_are_appended_as_json_lines_that_become_question_set_lines(tmp_path):
    from bot.eval.questions import load_questions

    session = _session()
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    log.record(session, session.turns[1], "up", "  good  ")
    log.record(session, session.turns[0], "down")
    up, down = [json.loads(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    assert set(up) == {"ts", "question", "history", "answer", "citations", "rating", "comment", "gold_sources"}
    assert up["question"] == "And wireheading?" and up["comment"] == "good"
    assert up["history"] == [{"question": "What is reward hacking?", "answer": "It is gaming the reward [1]."}]
    assert up["citations"] == [{"n": 2, "doc_id": "ok", "title": "A & B", "url": "https://example.org/post"},
                               {"n": 1, "doc_id": "evil", "title": HOSTILE.title, "url": HOSTILE.url}]
    assert up["gold_sources"] == ["ok", "evil"]
    assert down["rating"] == "down" and down["gold_sources"] == [] and down["history"] == []

    questions = questions_from_feedback(tmp_path / "feedback.jsonl")
    (tmp_path / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    loaded = load_questions(tmp_path / "questions.jsonl")
    assert [q["question"] for q in loaded] == ["And wireheading?"]
    assert loaded[0]["gold_sources"] == ["ok", "evil"] and loaded[0]["history"] == ["What is reward hacking?"]


def test_a_reply_is_found_from_its_chat_message_index():
    session = _session()
    assert session.turn_for_message(1) is session.turns[0]
    assert session.turn_for_message(3) is session.turns[1]
    assert session.turn_for_message(4) is None


def test_export_is_markdown_with_sources_and_only_http_links():
    session = _session()
    text = conversation_markdown(session, "extractive · none")
    assert text.startswith("# AlignChat conversation")
    assert "## 1. What is reward hacking?" in text and "## 2. And wireheading?" in text
    assert "[2] A & B — https://example.org/post" in text
    assert "> Reward is not the optimization target" in text
    assert "javascript:alert(2)" not in text and "javascript:alert(5)" not in text
    assert "explains: Paper <i>x</i> — A (2020)" in text
    assert answer_markdown(session.turns[0]).startswith("It is gaming the reward [1].\n\nSources:\n[2] A & B")


# --- library ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("notes.md", "notes.md"),
    ("../../etc/passwd.md", "passwd.md"),
    (".hidden.MD", "hidden.md"),
    ("my paper (final).pdf", "my-paper-final.pdf"),
    ("ard.jsonl", "ard.jsonl"),
])
def test_upload_names_stay_inside_the_uploads_folder(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["run.exe", "noext", "page.html.sh"])
def test_unsupported_uploads_are_refused(name):
    with pytest.raises(UploadRejected, match="not a supported file type"):
        safe_name(name)


def test_uploads_over_the_size_limit_are_refused_and_others_land_in_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", max_upload_mb=1)
    big, small = tmp_path / "big.md", tmp_path / "small.md"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    small.write_text("# Title\n\ntext\n")
    with pytest.raises(UploadRejected, match="over the 1 MiB limit"):
        save_upload(big, "big.md", settings)
    saved = save_upload(small, "../small.md", settings)
    assert saved == tmp_path / "data" / "uploads" / "small.md" and saved.read_text() == small.read_text()


def test_pasted_urls_must_be_http_and_few():
    assert parse_urls("https://a.org/x\n\n  https://a.org/x \nhttp://b.org") == ["https://a.org/x", "http://b.org"]
    with pytest.raises(UploadRejected, match="not an http"):
        parse_urls("javascript:alert(1)")
    with pytest.raises(UploadRejected, match="too many"):
        parse_urls("\n".join(f"https://a.org/{i}" for i in range(21)))


def test_library_search_matches_every_word_and_sorts():
    articles = [
        ArticleInfo("b", "Shard theory", ("Quintin Pope",), "2022-07-01", ("shard-theory",), "", "md", 4),
        ArticleInfo("a", "Wireheading", ("AlignChat editors",), "", ("wireheading",), "", "md", 9),
        ArticleInfo("c", "Reward shaping", ("Andrew Ng",), "1999-01-01", ("reward-learning",), "", "md", 2),
    ]
    assert [a.doc_id for a in search_articles(articles, "", "Title (A–Z)")] == ["c", "b", "a"]
    assert [a.doc_id for a in search_articles(articles, "", "Chunks (most first)")] == ["a", "b", "c"]
    assert [a.doc_id for a in search_articles(articles, "", "Date (newest first)")] == ["b", "c", "a"]
    assert [a.doc_id for a in search_articles(articles, "", "Date (oldest first)")] == ["c", "b", "a"]
    assert [a.doc_id for a in search_articles(articles, "pope SHARD", "Title (A–Z)")] == ["b"]
    assert search_articles(articles, "reward-learning ng", "Title (A–Z)")[0].doc_id == "c"


# --- settings, backends, engine -----------------------------------------------------------------------------


def test_auth_must_be_user_colon_password():
    assert Settings(auth="alice:s3:cret").auth == "alice:s3:cret"
    assert Settings(auth="alice:s3:cret, bob:pw").logins == [("alice", "s3:cret"), ("bob", "pw")]
    for bad in ("alice", ":pw", "alice:", "alice:pw,"):
        with pytest.raises(ValidationError, match="user:password"):
            Settings(auth=bad)
    with pytest.raises(ValidationError, match="names alice twice"):
        Settings(auth="alice:a,alice:b")


def test_editors_must_be_users_who_log_in():
    assert Settings(auth="alice:a,bob:b", editors="alice").editor_names == {"alice"}
    assert Settings(auth="alice:a").editor_names is None  # every logged-in user edits
    with pytest.raises(ValidationError, match="not in ALIGNCHAT_AUTH"):
        Settings(auth="alice:a", editors="mallory")
    with pytest.raises(ValidationError, match="set ALIGNCHAT_AUTH too"):
        Settings(editors="alice")


class _Visitor:
    """What Gradio hands a handler about its caller: the login name and the client address."""

    def __init__(self, username: str | None, host: str = "203.0.113.7") -> None:
        self.username = username
        self.client = type("Client", (), {"host": host})()


@pytest.mark.parametrize("auth, editors, host, visitor, edits", [
    (None, None, "127.0.0.1", None, True),  # one person's laptop
    (None, None, "localhost", None, True),
    (None, None, "0.0.0.0", None, False),  # shared without a login: read only
    (None, None, "192.168.1.5", None, False),
    ("alice:a,bob:b", None, "0.0.0.0", "bob", True),  # no editors named: every login edits
    ("alice:a,bob:b", "alice", "0.0.0.0", "alice", True),
    ("alice:a,bob:b", "alice", "0.0.0.0", "bob", False),
    ("alice:a,bob:b", "alice", "127.0.0.1", None, False),  # a login is required even on loopback
])
def test_who_may_change_the_library(auth, editors, host, visitor, edits):
    from bot.web.access import Access, NotAllowed

    access = Access.from_settings(Settings(auth=auth, editors=editors), host)
    request = _Visitor(visitor)
    assert access.can_edit(request) is edits
    assert (access.reader_notice(request) == "") is edits
    if edits:
        assert access.require_editor(request, "remove articles") == (visitor or "visitor at 203.0.113.7")
    else:
        with pytest.raises(NotAllowed, match="remove articles"):
            access.require_editor(request, "remove articles")


def test_a_chat_session_asking_too_fast_is_told_how_long_to_wait():
    session = ChatSession()
    assert [session.wait_before_asking(3, now=t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
    assert session.wait_before_asking(3, now=10.0) == pytest.approx(50.0)  # the first question is 10 s old
    assert session.wait_before_asking(3, now=60.5) == 0.0  # it left the window; the refused one never counted
    assert len(session.asked) == 3
    assert all(session.wait_before_asking(0, now=61.0 + i / 10) == 0.0 for i in range(50))  # 0: no limit


def test_answers_waiting_for_the_model_hear_their_place_in_line():
    import threading
    import time

    from bot.answer.turnstile import Turnstile

    turnstile = Turnstile()
    order: list[str] = []
    heard: dict[str, list] = {"second": [], "third": []}
    first = turnstile.enter()
    ticket = None
    try:
        next(first)
    except StopIteration as done:  # nobody ahead: straight in
        ticket = done.value
    assert ticket is not None

    def wait(name: str) -> None:
        line = turnstile.enter()
        try:
            while True:
                heard[name].append(next(line))
        except StopIteration as done:
            order.append(name)
            time.sleep(0.05)
            turnstile.leave(done.value)

    second = threading.Thread(target=wait, args=("second",))
    second.start()
    time.sleep(0.3)
    third = threading.Thread(target=wait, args=("third",))
    third.start()
    time.sleep(1.5)
    order.append("first")
    turnstile.leave(ticket)
    second.join(10)
    third.join(10)
    assert order == ["first", "second", "third"]  # first come, first served
    assert heard["second"][0].ahead == 1 and heard["second"][0].wait_s is None  # nothing timed yet
    assert heard["third"][0].ahead == 2 and "2 answers are ahead of yours" in heard["third"][0].words
    assert [q.ahead for q in heard["third"]][-1] == 1  # moved up when the first was done
    assert heard["third"][-1].wait_s is not None  # by then one generation had been timed


def test_an_answer_that_gives_up_waiting_leaves_the_line():
    from bot.answer.turnstile import Turnstile

    turnstile = Turnstile()
    running = turnstile.enter()
    try:
        next(running)
    except StopIteration as done:
        ticket = done.value
    waiting = turnstile.enter()
    assert next(waiting).ahead == 1
    waiting.close()  # the reader closed the page
    behind = turnstile.enter()
    assert next(behind).ahead == 1  # not 2: the one who left holds no place
    behind.close()
    turnstile.leave(ticket)


def test_page_visitors_choose_among_configured_backends_only(monkeypatch):
    from bot.web.backends import Backends

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    local = Backends.from_settings(Settings(llm="gguf:/models/qwen.gguf"))
    assert local.choices() == ["bundled", "extractive", "gguf"] and local.default == "gguf"
    assert local.spec("gguf", "/etc/passwd") == "gguf:/models/qwen.gguf"  # the page cannot name another file
    assert local.model_for("gguf") == "qwen.gguf"
    with pytest.raises(ValueError, match="not available"):
        local.spec("openai", "gpt-4o-mini")

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    remote = Backends.from_settings(Settings(llm="extractive"))
    assert remote.choices() == ["bundled", "extractive", "openai"]
    assert remote.spec("openai", " llama3.1 ") == "openai:llama3.1"
    with pytest.raises(ValueError, match="model name"):
        remote.spec("openai", "two words")


def test_engine_views_share_the_index_and_load_each_llm_once(extractive_engine):
    settings = extractive_engine.settings.model_copy(update={"llm": "openai:m", "top_k": 3})
    view = extractive_engine.for_settings(settings)
    again = extractive_engine.for_settings(settings)
    assert view.llm.name == "m" and view.llm is again.llm
    assert view.settings.top_k == 3 and extractive_engine.settings.top_k != 3
    assert extractive_engine.llm is None and view.retriever is extractive_engine.retriever
    assert extractive_engine.for_settings(extractive_engine.settings).llm is None


# --- evaluation runs ---------------------------------------------------------------------------------------------


def test_each_run_is_compared_with_the_latest_earlier_run_of_its_mode(tmp_path):
    from bot.web.eval_tab import comparison_table, new_run_dir, previous_run

    for name, retrieval_only in (("2026-01-01_10-00-00", True), ("2026-01-02_10-00-00", False),
                                 ("2026-01-03_10-00-00", True)):
        run = tmp_path / name
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"retrieval_only": retrieval_only}))
        (run / "summary.json").write_text("{}")
    (tmp_path / "2026-01-04_10-00-00").mkdir()  # an interrupted run: no summary
    assert previous_run(tmp_path, True).name == "2026-01-03_10-00-00"
    assert previous_run(tmp_path, False).name == "2026-01-02_10-00-00"
    assert previous_run(tmp_path / "none", True) is None
    first = new_run_dir(tmp_path)
    first.mkdir()
    assert new_run_dir(tmp_path) != first

    table = comparison_table({"n_questions": 3, "retrieval": {"hit_at_5": 0.75}},
                             {"n_questions": 3, "retrieval": {"hit_at_5": 0.5}})
    row = table[table["Metric"] == "hit@5"].iloc[0]
    assert (row["This run"], row["Previous run"], row["Change"]) == (0.75, 0.5, 0.25)
    assert not table["Metric"].str.contains("judged").any()

    # Judged rows are labelled with their judge and compared only with the same judge's opinion.
    judged = {"judged": {"judge": "big", "faithfulness": 0.9, "relevance": 0.8}}
    table = comparison_table(judged, {"judged": {"judge": "big", "faithfulness": 0.7, "relevance": 0.8}})
    row = table[table["Metric"] == "faithfulness (judged by big)"].iloc[0]
    assert (row["This run"], row["Previous run"], row["Change"]) == (0.9, 0.7, 0.2)
    table = comparison_table(judged, {"judged": {"judge": "other", "faithfulness": 0.7}})
    assert pd.isna(table[table["Metric"] == "faithfulness (judged by big)"].iloc[0]["Change"])


# --- chat failures -------------------------------------------------------------------------------------------------


def _reply(engine, tmp_path, backend: str = "extractive", model: str = "") -> tuple[list[str], Turn]:
    from bot.web.chat_tab import ChatTab

    chat = ChatTab(engine, tmp_path / "exports")
    turn = Turn("What is wireheading?", "")
    pieces = list(chat._reply(turn.question, ChatSession(), turn, "turn1-source", backend, model, "concise", 5, []))
    return pieces, turn


def test_an_empty_library_is_a_readable_message(tmp_path, extractive_engine):
    from bot.answer.pipeline import Engine
    from bot.answer.retrieval import Retriever
    from bot.core.index import IndexStore

    settings = Settings(data_dir=tmp_path, llm="extractive")  # a library emptied while the app runs
    engine = Engine(settings, Retriever(IndexStore(settings, create=True), extractive_engine.embeddings), None)
    pieces, turn = _reply(engine, tmp_path)
    assert pieces == [notice_html(turn.answer)] and turn.failed
    assert "library is empty" in turn.answer and "Library tab" in turn.answer


def test_an_unexpected_error_is_logged_and_shown_without_a_trace(tmp_path, caplog, extractive_engine):
    from bot.answer.pipeline import Engine
    from tests.scripted_llm import Reply, ScriptedLLM

    settings = extractive_engine.settings.model_copy(update={"llm": "openai:scripted"})
    crashing = ScriptedLLM(Reply("Wireheading is what happens when", fail_after=2, error=RuntimeError("boom: an unexpected bug")))
    pieces, turn = _reply(Engine(settings, extractive_engine.retriever, crashing), tmp_path, "openai", "scripted")
    assert "server log" in pieces[-1] and "boom" not in pieces[-1] and "Traceback" not in pieces[-1]
    assert turn.failed and "answer failed" in caplog.text


def test_a_thinking_model_shows_that_it_is_thinking_then_only_its_checked_answer(tmp_path, extractive_engine):
    from bot.answer.pipeline import Engine
    from tests.scripted_llm import ScriptedLLM

    settings = extractive_engine.settings.model_copy(update={"llm": "openai:scripted"})
    thinking = "<think>" + "The sources say wireheading is going for the signal itself. " * 4 + "</think>"
    answer = ("Wireheading is when a system meant to pursue a goal in the world goes straight for the signal "
              "that measures that goal instead [1].")
    llm = ScriptedLLM(thinking + answer)
    pieces, turn = _reply(Engine(settings, extractive_engine.retriever, llm), tmp_path, "openai", "scripted")
    shown = [p for p in pieces if "The model is thinking" in p]
    assert shown and "signal itself" not in " ".join(pieces), "the thought is never on the page"
    assert pieces.index(shown[-1]) < next(i for i, p in enumerate(pieces) if "partial" in p)
    assert turn.answer.startswith("Wireheading is when a system") and "think" not in turn.answer
