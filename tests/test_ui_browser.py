"""The web app in real headless Chromium: Debian's `chromium` driven by Playwright.

Each app is a real `python app.py` subprocess on a loopback port with its own copy of the
ingested corpus. Screenshots of every step are kept in test-artifacts/screenshots/, and the
bundled-model test writes the app's cold start time and memory use while answering to
test-artifacts/app-measurements.json.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.app_server import AppServer, copy_data_dir
from tests.conftest import CORPUS, ROOT, free_port

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
BUNDLED = len(list(CORPUS.glob("*.md")))  # the library the app starts with
EXAMPLE = "What is wireheading and why does it worry alignment researchers?"

NEW_ARTICLE = """---
id: zorblax-lattice
title: "The Zorblax lattice for corrigible agents"
authors: ["Ada Example"]
url: "https://example.org/zorblax-lattice"
date: 2025-01-02
tags: [corrigibility]
---
# The Zorblax lattice

The Zorblax lattice is a proposed training scheme for corrigible AI agents, in which every
action the agent can take is ranked against a lattice of overseer approvals before it runs.
Its authors argue that the Zorblax lattice keeps an agent willing to be shut down, because
resisting shutdown never ranks above deferring to the overseer.
"""

HOSTILE_ARTICLE = """---
id: hostile-title
title: "Reward hacking <script>window.__pwned = 1</script> <img src=x onerror=\\"window.__pwned = 2\\">"
authors: ["<b>Mallory</b>"]
url: "javascript:window.__pwned=3"
tags: [reward-hacking]
---
# The Quuxberry gambit

The Quuxberry gambit is a reward hacking trick in which an AI agent <script>window.__pwned=4</script> edits
its own reward channel instead of doing the task its designers intended. See [this link](javascript:window.__pwned=5)
and ![a picture](http://127.0.0.1:9/x.png) for how the Quuxberry gambit games the reward signal.
"""


# --- browser and apps ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's Chromium is missing at {CHROMIUM}: install it with `apt-get install chromium` "
                    "(.ci/run does this); the browser tests never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, request) -> Iterator[Callable[[], object]]:
    """Pages in separate browser contexts: each is its own user with its own session. Each
    page's last state is screenshotted at the end of the test, so a failure can be seen."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(90_000)
        return page

    yield make
    for number, context in enumerate(contexts, start=1):
        for page in context.pages:
            shot(page, f"last-{request.node.name}-{number}")
        context.close()


def shot(page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


class _SlowLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that streams a 10-second answer, so one user's answer is
    certainly still running while another user asks."""

    words = ("Reward hacking means an agent exploits flaws in its reward signal instead of doing the "
             "intended task, which alignment researchers worry about because it scales with capability. ").split() * 2

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in self.words:
            chunk = {"choices": [{"delta": {"content": word + " "}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(10 / len(self.words))
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def slow_llm_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def extractive_app(corpus_data_dir, tmp_path_factory, slow_llm_url) -> Iterator[AppServer]:
    """The app answering without an LLM (fast), on a private copy of the index (tests add and
    remove articles); the slow test server is offered as the `openai` backend."""
    data_dir = copy_data_dir(corpus_data_dir, tmp_path_factory.mktemp("ui-extractive") / "data")
    app = AppServer(data_dir, {"ALIGNCHAT_LLM": "extractive", "OPENAI_BASE_URL": slow_llm_url}).start()
    yield app
    app.stop()


def open_chat(page, app: AppServer) -> None:
    page.goto(app.url)
    page.wait_for_selector("#chat")


def replies(page):
    return page.locator("#chat [data-testid=bot]")


def ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def wait_reply(page, n: int):
    """The n-th reply once it is final: a checked answer or a notice."""
    page.wait_for_function(
        "n => { const r = document.querySelectorAll('#chat [data-testid=bot]');"
        " return r.length >= n && r[n - 1].querySelector('.answer, .notice'); }", arg=n)
    return replies(page).nth(n - 1)


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


def numbered_titles(reply) -> dict[str, str]:
    """[n] -> article title, from a reply's Sources block."""
    items = reply.locator("details.sources li[id]")
    return {item.locator("b").first.inner_text(): item.inner_text().split("\n")[0] for item in items.all()}


def open_citation(page, link):
    """The article page a citation link opens in a new tab, once loaded."""
    with page.context.expect_page() as opened:
        link.click()
    article = opened.value
    article.wait_for_load_state()
    return article


def upload(page, path: Path, expected: str) -> str:
    """Add one file in the Library tab; returns the ingestion summary."""
    page.get_by_role("tab", name="Library").click()
    page.locator("#library-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#library-upload")).to_contain_text(path.stem)  # uploaded
    page.locator("#library-add").click()
    page.locator("#library-summary").get_by_text(expected).wait_for()
    return page.locator("#library-summary").inner_text()


# --- chat ---------------------------------------------------------------------------------------------


def test_example_question_gets_a_cited_answer_with_sources(extractive_app, new_page):
    page = new_page()
    open_chat(page, extractive_app)
    for example in ("won't it just want the reward", "shard theory", "wireheading"):
        assert page.locator("#chat").get_by_text(example).count() >= 1
    shot(page, "chat-01-first-visit")

    page.locator("#chat").get_by_text(EXAMPLE).click()
    reply = wait_reply(page, 1)
    markers = reply.locator(".answer > p a")
    assert markers.count() >= 1
    assert markers.first.get_attribute("href").startswith("article/")  # the app's page of the article
    assert markers.first.get_attribute("target") == "_blank"
    sources = reply.locator("details.sources")
    assert sources.get_attribute("open") is None
    shot(page, "chat-02-answer")

    sources.locator("summary").click()
    assert sources.get_attribute("open") is not None
    assert sources.locator("blockquote").first.is_visible()
    assert "Explains:" in sources.inner_text()  # the bundled explainer's references
    shot(page, "chat-03-sources-open")

    ask(page, "Why do researchers worry about it?")
    follow_up = wait_reply(page, 2)
    first, second = numbered_titles(reply), numbered_titles(follow_up)
    assert first and second
    for number in first.keys() & second.keys():
        assert first[number] == second[number], "an article changed its number within the conversation"
    for number, title in second.items():
        assert title not in [t for n, t in first.items() if n != number]
    shot(page, "chat-04-follow-up")


def test_feedback_copy_export_and_new_chat(extractive_app, new_page):
    page = new_page()
    open_chat(page, extractive_app)
    ask(page, "What is shard theory?")
    reply = wait_reply(page, 1)
    cited = reply.locator("details.sources li[id]").count()

    page.locator("#feedback-comment textarea").fill("Clear, and the sources check out.")
    page.locator("#chat").get_by_label("Like", exact=True).nth(0).click()
    page.locator("#feedback-status").get_by_text("Thanks").wait_for()
    vote = json.loads((extractive_app.data_dir / "feedback.jsonl").read_text().splitlines()[-1])
    assert vote["rating"] == "up" and vote["question"] == "What is shard theory?"
    assert vote["comment"] == "Clear, and the sources check out."
    assert vote["history"] == [] and vote["answer"] and vote["ts"]
    assert len(vote["citations"]) == cited and set(vote["citations"][0]) == {"n", "doc_id", "title", "url"}
    assert vote["gold_sources"] == [c["doc_id"] for c in vote["citations"]]
    assert page.locator("#feedback-comment textarea").input_value() == ""

    page.locator("#copy-answer").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(vote["answer"][:40]) and "Sources:" in copied and "[1]" in copied

    ask(page, "And what do its critics say?")
    second = wait_reply(page, 2)
    assert second.locator(".answer").count() == 1
    page.locator("#chat").get_by_label("Dislike", exact=True).nth(1).click()
    page.locator("#feedback-status").get_by_text("Thanks").wait_for()
    vote = json.loads((extractive_app.data_dir / "feedback.jsonl").read_text().splitlines()[-1])
    assert vote["rating"] == "down" and vote["gold_sources"] == [] and vote["comment"] == ""
    assert [h["question"] for h in vote["history"]] == ["What is shard theory?"]
    shot(page, "chat-05-feedback")

    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("# AlignChat conversation")
    assert "## 1. What is shard theory?" in exported and "## 2. And what do its critics say?" in exported
    assert "Sources:" in exported and "> " in exported

    page.locator("#new-chat").click()
    page.wait_for_function("() => !document.querySelector('#chat [data-testid=bot]')")
    assert page.locator("#chat").get_by_text("shard theory").count() >= 1  # the examples are back
    shot(page, "chat-06-new-chat")


def test_two_users_have_their_own_conversations_and_do_not_block_each_other(extractive_app, new_page):
    slow, quick = new_page(), new_page()
    open_chat(slow, extractive_app)
    open_chat(quick, extractive_app)
    choose(slow, "backend", "openai")
    slow.locator("#model textarea, #model input").first.fill("slow-test-model")
    slow.locator("#model textarea, #model input").first.press("Enter")
    slow.locator("#backend-status").get_by_text("slow-test-model").wait_for()
    assert "extractive" in quick.locator("#backend-status").inner_text()  # settings are per user

    ask(slow, "What is reward hacking?")
    slow.wait_for_selector("#chat .partial")  # the slow answer is being written
    started = time.monotonic()
    ask(quick, "What is corrigibility?")
    wait_reply(quick, 1)
    quick_s = time.monotonic() - started
    assert slow.locator("#chat .pending").count() == 1, "the quick answer had to wait for the slow one"
    shot(quick, "users-01-quick-answered")
    shot(slow, "users-02-slow-still-streaming")

    wait_reply(slow, 1)
    assert quick_s < 10
    assert quick.locator("#chat").get_by_text("What is reward hacking?").count() == 0
    assert slow.locator("#chat").get_by_text("What is corrigibility?").count() == 0


def test_a_citation_opens_the_article_in_the_app_at_the_highlighted_passage(extractive_app, new_page):
    page = new_page()
    open_chat(page, extractive_app)
    ask(page, "What is reward tampering?")
    reply = wait_reply(page, 1)
    marker = reply.locator(".answer > p a").first
    number = marker.inner_text()
    entry = reply.locator(f"details.sources li[id$='-{number.strip('[]')}']")
    title, quoted = entry.locator("a").first.text_content(), entry.locator("blockquote").text_content()

    article = open_citation(page, marker)
    assert article.url.startswith(extractive_app.url + "article/") and article.url.endswith("#cited")
    expect(article.locator("h1")).to_have_text(title)
    cited = article.locator("mark#cited")
    expect(cited).to_be_in_viewport()  # scrolled to the passage, no script needed
    assert " ".join(cited.inner_text().split()) == " ".join(quoted.rstrip("…").split())
    shot(article, "article-01-cited-passage", full_page=False)

    reply.locator("details.sources summary").click()
    again = open_citation(page, entry.locator("a").first)  # the title in the Sources block opens it too
    expect(again.locator("mark#cited")).to_be_in_viewport()
    again.get_by_role("link", name="← AlignChat").click()
    again.wait_for_selector("#chat")


# --- library ----------------------------------------------------------------------------------------


def test_uploaded_markdown_article_gets_cited(extractive_app, new_page, tmp_path):
    page = new_page()
    open_chat(page, extractive_app)
    article = tmp_path / "zorblax-lattice.md"
    article.write_text(NEW_ARTICLE)
    summary = upload(page, article, "1 added")
    assert "0 failed" in summary
    assert (extractive_app.data_dir / "uploads" / "zorblax-lattice.md").is_file()
    assert list((extractive_app.data_dir / "tmp").rglob("zorblax-lattice.md"))  # Gradio's upload copy, too
    page.locator("#library-search input, #library-search textarea").first.fill("zorblax")
    page.locator("#library-caption").get_by_text(f"1 of {BUNDLED + 1} articles shown").wait_for()
    expect(page.locator("#library-table")).to_contain_text("The Zorblax lattice for corrigible agents")
    shot(page, "library-01-uploaded")

    page.get_by_role("tab", name="Chat").click()
    ask(page, "What is the Zorblax lattice for corrigible agents?")
    reply = wait_reply(page, 1)
    links = reply.locator('.answer > p a[href^="article/zorblax-lattice?quote="]')
    assert links.count() >= 1, reply.inner_html()
    assert links.first.get_attribute("target") == "_blank"
    assert "noopener" in links.first.get_attribute("rel")
    assert "The Zorblax lattice for corrigible agents" in reply.locator("details.sources").text_content()
    original = reply.locator('details.sources a[href^="https://example.org/zorblax-lattice#:~:text="]')
    assert original.text_content() == "original ↗" and "noopener" in original.get_attribute("rel")
    shot(page, "library-02-new-article-cited")

    article = open_citation(page, links.first)
    expect(article.locator("mark#cited")).to_be_in_viewport()
    assert article.get_by_role("link", name="https://example.org/zorblax-lattice").count() == 1
    shot(article, "library-02b-new-article-page", full_page=False)


def test_library_search_sort_and_remove(extractive_app, new_page):
    page = new_page()
    open_chat(page, extractive_app)
    page.get_by_role("tab", name="Library").click()
    page.locator("#library-caption").get_by_text("articles shown").wait_for()
    choose(page, "library-sort", "Chunks (most first)")
    page.wait_for_function("""() => {
        const chunks = [0, 1, 2, 3, 4, 5].map(row =>
            Number(document.querySelector(`#library-table [data-testid=cell-${row}-4]`)?.innerText));
        return chunks.every((c, i) => c > 0 && (i === 0 || chunks[i - 1] >= c));
    }""")

    page.locator("#library-search input, #library-search textarea").first.fill("zorblax")
    expect(page.locator("#library-caption")).to_contain_text(f"1 of {BUNDLED + 1} articles shown")
    expect(page.locator("#library-table [data-testid=cell-0-5]")).to_have_text("zorblax-lattice")
    page.locator("#library-table [data-testid=cell-0-0]").click()
    expect(page.locator("#library-remove-choice input")).to_have_value("The Zorblax lattice for corrigible agents (zorblax-lattice)")
    page.locator("#library-remove").click()
    page.locator("#library-summary").get_by_text("Moved zorblax-lattice").wait_for()
    expect(page.locator("#library-caption")).to_contain_text(f"0 of {BUNDLED} articles shown")
    page.locator("#library-trash-choice input").click()
    expect(page.get_by_role("option").first).to_contain_text("The Zorblax lattice for corrigible agents (zorblax-lattice)")
    page.keyboard.press("Escape")
    shot(page, "library-03-removed")

    page.get_by_role("tab", name="Chat").click()
    ask(page, "What is the Zorblax lattice for corrigible agents?")
    reply = wait_reply(page, 1)
    assert reply.locator('a[href*="zorblax-lattice"]').count() == 0
    gone = page.goto(extractive_app.url + "article/zorblax-lattice")  # a citation from before the removal
    assert gone.status == 404
    expect(page.locator("body")).to_contain_text("is not in the library: it may have been removed")
    shot(page, "library-04-removed-article-page")

    page.goto(extractive_app.url)  # a mistake: the editor takes it back out of the trash
    page.get_by_role("tab", name="Library").click()
    choose(page, "library-trash-choice", "The Zorblax lattice for corrigible agents (zorblax-lattice), removed")
    page.locator("#library-restore").click()
    page.locator("#library-summary").get_by_text("Restored zorblax-lattice").wait_for()
    page.locator("#library-search input, #library-search textarea").first.fill("zorblax")
    expect(page.locator("#library-caption")).to_contain_text(f"1 of {BUNDLED + 1} articles shown")
    shot(page, "library-05-restored")
    assert page.goto(extractive_app.url + "article/zorblax-lattice").status == 200


def test_script_in_a_title_renders_as_text(extractive_app, new_page, tmp_path):
    page = new_page()
    open_chat(page, extractive_app)
    article = tmp_path / "hostile.md"
    article.write_text(HOSTILE_ARTICLE)
    upload(page, article, "1 added")
    page.locator("#library-search input, #library-search textarea").first.fill("hostile")
    page.locator("#library-caption").get_by_text("1 of").wait_for()
    expect(page.locator("#library-table")).to_contain_text("<script>window.__pwned = 1</script>")
    shot(page, "safety-01-library")

    page.get_by_role("tab", name="Chat").click()
    ask(page, "What is the Quuxberry gambit in reward hacking?")
    reply = wait_reply(page, 1)
    reply.locator("details.sources summary").click()
    text = reply.inner_text()
    assert "<script>window.__pwned = 1</script>" in text  # the title, shown as text
    assert "<b>Mallory</b>" in text
    assert page.locator("#chat script, #chat img, #chat b:text('Mallory')").count() == 0
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert page.locator('#chat a[href*="127.0.0.1:9"]').count() == 0
    assert page.evaluate("window.__pwned") is None
    shot(page, "safety-02-chat")

    article = open_citation(page, reply.locator('.answer > p a[href^="article/hostile-title?"]').first)
    expect(article.locator("h1")).to_have_text("Reward hacking <script>window.__pwned = 1</script> "
                                               '<img src=x onerror="window.__pwned = 2">')
    expect(article.locator("article")).to_contain_text("<script>window.__pwned=4</script>")
    assert article.locator("body script, body img, body b").count() == 0
    assert article.locator('a[href^="javascript:"]').count() == 0
    assert article.evaluate("window.__pwned") is None
    shot(article, "safety-03-article-page")


# --- evaluation ---------------------------------------------------------------------------------------


def test_evaluation_tab_runs_and_compares_with_the_previous_run(extractive_app, new_page, tmp_path):
    questions = tmp_path / "three.jsonl"
    questions.write_text("\n".join((ROOT / "corpus" / "questions.jsonl").read_text().splitlines()[:3]) + "\n")
    page = new_page()
    open_chat(page, extractive_app)
    page.get_by_role("tab", name="Evaluation").click()
    page.locator("#eval-questions input[type=file]").set_input_files(str(questions))
    expect(page.locator("#eval-questions")).to_contain_text("three")  # uploaded
    assert page.locator("#eval-retrieval-only input").is_checked()

    page.locator("#eval-run").click()
    expect(page.locator("#eval-status")).to_contain_text("3 questions from three.jsonl, retrieval only; no earlier run")
    expect(page.locator("#eval-table")).to_contain_text("hit@5")
    page.wait_for_function("() => document.querySelectorAll('#eval-plots img').length >= 3")
    shot(page, "eval-01-first-run")

    page.locator("#eval-run").click()
    expect(page.locator("#eval-status")).to_contain_text("compared with the run of")
    expect(page.locator("#eval-table")).to_contain_text("Previous run")
    runs = sorted((extractive_app.data_dir / "evals").iterdir())
    assert len(runs) == 2 and all((run / "report.md").is_file() for run in runs)
    assert "Changes since the previous run" in (runs[1] / "report.md").read_text()
    shot(page, "eval-02-compared")


# --- failures, login, the bundled model -------------------------------------------------------------


def test_unreachable_llm_shows_a_readable_error_and_the_page_stays_usable(corpus_data_dir, tmp_path, new_page):
    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    app = AppServer(data_dir, {"ALIGNCHAT_LLM": "openai:x", "OPENAI_BASE_URL": nowhere}).start()
    try:
        page = new_page()
        open_chat(page, app)
        assert "openai" in page.locator("#backend-status").inner_text()
        ask(page, "What is wireheading?")
        notice = wait_reply(page, 1).locator(".notice")
        assert "cannot reach the LLM server" in notice.inner_text()
        assert "Settings" in notice.inner_text()
        assert "Traceback" not in page.content()
        shot(page, "error-01-llm-unreachable")

        choose(page, "backend", "extractive")
        ask(page, "What is wireheading?")
        assert wait_reply(page, 2).locator(".answer details.sources").count() == 1
        shot(page, "error-02-recovered")
    finally:
        app.stop()


def test_login_is_required_when_alignchat_auth_is_set(corpus_data_dir, tmp_path, new_page):
    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    app = AppServer(data_dir, {"ALIGNCHAT_LLM": "extractive", "ALIGNCHAT_AUTH": "alice:s3cret,rob:r34der",
                               "ALIGNCHAT_EDITORS": "alice", "ALIGNCHAT_RATE_LIMIT": "2"}).start()
    try:
        page = new_page()
        refused = page.goto(app.url + "article/wireheading?quote=x")
        assert refused.status == 401 and "Log in first" in page.inner_text("body")
        assert "Wireheading" not in page.content()  # nothing of the article before the login
        page.goto(app.url)
        page.get_by_label("username").fill("alice")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        page.get_by_text("Incorrect Credentials").wait_for()
        assert page.locator("#chat").count() == 0
        shot(page, "auth-01-refused")
        page.get_by_label("username").fill("alice")  # the form clears after a refusal
        page.get_by_label("password").fill("s3cret")
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector("#chat")
        shot(page, "auth-02-logged-in")
        assert page.goto(app.url + "article/wireheading").status == 200
        assert page.locator("h1").inner_text().startswith("Wireheading")
        page.goto(app.url)
        page.get_by_role("tab", name="Library").click()
        expect(page.locator("#library-remove")).to_be_visible()  # alice edits

        reader = new_page()  # rob reads: the library without its editing controls, and why
        reader.goto(app.url)
        reader.get_by_label("username").fill("rob")
        reader.get_by_label("password").fill("r34der")
        reader.get_by_role("button", name="Login").click()
        reader.get_by_role("tab", name="Library").click()
        expect(reader.locator("#library-reader-note")).to_contain_text("You are logged in as rob, a reader")
        expect(reader.locator("#library-caption")).to_contain_text("articles shown")
        assert reader.locator("#library-remove").count() == 0 or not reader.locator("#library-remove").is_visible()
        assert reader.locator("#library-add").count() == 0 or not reader.locator("#library-add").is_visible()
        shot(reader, "auth-03-reader-library")
        reader.get_by_role("tab", name="Evaluation").click()
        expect(reader.locator("#eval-reader-note")).to_contain_text("a reader")
        assert reader.locator("#eval-run").count() == 0 or not reader.locator("#eval-run").is_visible()

        reader.get_by_role("tab", name="Chat").click()  # a reader chats, up to the rate limit (2 a minute here)
        for n, question in enumerate(["What is wireheading?", "What is reward hacking?"], start=1):
            ask(reader, question)
            wait_reply(reader, n)
        ask(reader, "What is shard theory?")
        expect(reader.get_by_text("You have asked 2 questions in the last minute")).to_be_visible()
        expect(reader.locator("#question textarea")).to_have_value("What is shard theory?")  # not lost
        assert replies(reader).count() == 2
        shot(reader, "auth-04-rate-limited")
    finally:
        app.stop()


def test_bundled_model_streams_a_cited_answer(corpus_data_dir, tmp_path, new_page):
    data_dir = copy_data_dir(corpus_data_dir, tmp_path / "data")
    app = AppServer(data_dir, {"ALIGNCHAT_LLM": "bundled"}).start()
    try:
        page = new_page()
        open_chat(page, app)
        assert "SmolLM2" in page.locator("#backend-status").inner_text()
        page.evaluate("""() => { window.__shown = []; window.__writing = false; new MutationObserver(() => {
            if (document.querySelector('#chat .partial')) window.__writing = true;
            const checked = document.querySelector('#chat .partial .checked');
            if (checked && checked.innerText.trim()) window.__shown.push(checked.innerText.trim());
        }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        idle_mib = app.rss_mib()
        page.locator("#chat").get_by_text(EXAMPLE).click()
        peak_mib, deadline = idle_mib, time.monotonic() + 300
        while not page.locator("#chat .answer, #chat .notice").count() and time.monotonic() < deadline:
            peak_mib = max(peak_mib, app.rss_mib())
            time.sleep(0.2)
        reply = wait_reply(page, 1)
        assert page.evaluate("window.__writing"), "no progress was shown while the model wrote"
        shown = page.evaluate("window.__shown")  # the checked sentences, as the reader saw them appear
        final = reply.locator(".answer > p").first.inner_text()
        assert all(final.startswith(partial) for partial in shown), "a sentence shown while writing was taken back"
        assert reply.locator(".answer > p a").count() >= 1
        assert reply.locator("details.sources li[id]").count() >= 1
        shot(page, "bundled-01-streamed-answer")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "app-measurements.json").write_text(json.dumps({
            "llm": "bundled", "cold_start_s": round(app.cold_start_s, 2),
            "rss_idle_mib": round(idle_mib), "rss_peak_while_answering_mib": round(peak_mib),
        }, indent=2))

        # Three readers at once: the model writes one answer at a time, and those waiting are told so.
        readers = [new_page() for _ in range(3)]
        for reader in readers:
            open_chat(reader, app)
            reader.evaluate("""() => { window.__waited = ''; new MutationObserver(() => {
                const text = document.querySelector('#chat')?.innerText || '';
                const at = text.indexOf('Waiting for the model');
                if (at >= 0 && !window.__waited) window.__waited = text.slice(at, at + 80);
            }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
        for reader, question in zip(readers, ["What is wireheading?", "What is reward hacking?", "What is shard theory?"],
                                    strict=True):
            ask(reader, question)
        waited = []
        for reader in readers:
            wait_reply(reader, 1)
            waited.append(reader.evaluate("window.__waited"))
        assert any(w.startswith("Waiting for the model: 1 answer is ahead of yours") for w in waited), waited
    finally:
        app.stop()
