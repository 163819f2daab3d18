"""Fetching articles from URLs, against a real HTTP server on loopback."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ingest.markdown import LoadError
from ingest.web import fetch_article, read_url_file, site_kind
from tests.conftest import free_port
from tests.test_formats import write_pdf

ARXIV_ABSTRACT = (
    "For sophisticated reinforcement learning (RL) systems to interact usefully with real-world environments, "
    "we need to communicate complex goals to these systems. In this work, we explore goals defined in terms of "
    "(non-expert) human preferences between pairs of trajectory segments."
)

ARXIV_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head>
<title>[1706.03741] Deep reinforcement learning from human preferences</title>
<meta name="citation_title" content="Deep reinforcement learning from human preferences" />
<meta name="citation_author" content="Christiano, Paul" />
<meta name="citation_author" content="Leike, Jan" />
<meta name="citation_date" content="2017/06/12" />
<meta name="citation_arxiv_id" content="1706.03741v4" />
<meta name="citation_abstract" content="{ARXIV_ABSTRACT}" />
</head><body>
<div id="header"><a href="/">arXiv</a> &gt; cs &gt; arXiv:1706.03741</div>
<div id="content"><h1 class="title mathjax">Title: Deep reinforcement learning from human preferences</h1>
<blockquote class="abstract mathjax"><span class="descriptor">Abstract:</span>{ARXIV_ABSTRACT}</blockquote>
<div class="submission-history">Submission history: From: Paul Christiano [v1] Mon, 12 Jun 2017</div>
</div><footer>About arXiv. Help. Contact. Subscribe to mailings.</footer>
</body></html>"""

ARXIV_PAGE_WITHOUT_ABSTRACT_TAG = """<html><head>
<meta name="citation_title" content="Concrete Problems in AI Safety" />
<meta name="citation_author" content="Amodei, Dario" />
</head><body><blockquote class="abstract mathjax">
  <span class="descriptor">Abstract:</span>
  Rapid progress in machine learning and artificial intelligence (AI) has brought
  increasing attention to the potential impacts of AI technologies on society.
</blockquote></body></html>"""

LESSWRONG_PAGE = """<!DOCTYPE html>
<html><head>
<title>Shard Theory in Nine Theses: a Distillation and Critical Appraisal — LessWrong</title>
<meta property="og:title" content="Shard Theory in Nine Theses: a Distillation and Critical Appraisal">
<meta name="citation_author" content="LawrenceC">
<meta property="article:published_time" content="2022-12-19T22:52:20.031Z">
<meta property="og:url" content="https://www.lesswrong.com/posts/8ccTZ9ZxpJrvnxt4F/shard-theory-in-nine-theses">
</head><body>
<header class="Header-root"><a href="/">LESSWRONG</a> <a href="/library">Library</a> <a href="/questions">Questions</a></header>
<div class="PostsPage-postContent"><div>
<p>Shard theory claims that the values of a trained agent are contextually activated decision influences,
which the authors call shards, rather than a single coherent utility function over world states.</p>
<h2>Thesis one: agents are made of shards</h2>
<p>A shard is a circuit that was reinforced because it steered the agent toward reward in some context, and
it bids for actions whenever that context recurs, even when reward is no longer being computed.</p>
<h2>Thesis two: reward is not the optimization target</h2>
<p>Reward chisels cognition into the network; a policy trained by reinforcement learning need not come to
value reward itself, and usually will not.</p>
</div></div>
<div class="CommentsSection-root"><div class="CommentsItem-body">
<p>Great post! I disagree with thesis two though, because sufficiently capable agents might still wirehead.</p>
</div></div>
<footer>Terms of use. Privacy policy. Cookie settings.</footer>
</body></html>"""

GREATERWRONG_PAGE = """<!DOCTYPE html>
<html><head><title>Reward is not the optimization target - LessWrong 2.0 viewer</title></head><body>
<div id="content"><div class="post">
<h1 class="post-title">Reward is not the optimization target</h1>
<div class="body-text post-body">
<p>Reinforcement learning agents are not, in general, reward maximizers: reward is the signal that
reinforces the computations that led to it, and the trained policy is whatever those computations become.</p>
<p>This matters for alignment because it changes which failure modes we should expect from trained agents.</p>
</div></div>
<div id="comments" class="comments"><div class="comment-item">
<p>I think this is mostly a semantic point about what optimization target means in ordinary usage.</p>
</div></div></div></body></html>"""

PLAIN_PAGE = """<html><head><title>Wireheading</title></head><body><article>
<h1>Wireheading</h1>
<p>Wireheading is when an agent tampers with its own reward channel instead of doing the task, named after
experiments in which rats pressed a lever that stimulated their brains directly.</p>
</article></body></html>"""

CANONICAL_PAGE = PLAIN_PAGE.replace(
    "<title>", '<link rel="canonical" href="https://example.org/wireheading/"><title>'
)

LATIN1_PAGE = (
    "<html><body><article><p>Le café de la sûreté: an essay on safe exploration, with accents that must "
    "survive decoding when the server says ISO-8859-1.</p></article></body></html>"
).encode("latin-1")


class Handler(BaseHTTPRequestHandler):
    server: PageServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes = b"", content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.hits[self.path] += 1
        self.server.user_agents.append(self.headers.get("User-Agent", ""))
        pages = {
            "/abs/1706.03741": ARXIV_PAGE,
            "/abs/1606.06565": ARXIV_PAGE_WITHOUT_ABSTRACT_TAG,
            "/posts/8ccTZ9ZxpJrvnxt4F/shard-theory": LESSWRONG_PAGE,
            "/gw/reward-is-not-the-optimization-target": GREATERWRONG_PAGE,
            "/wireheading": PLAIN_PAGE,
            "/canonical": CANONICAL_PAGE,
        }
        if self.path in pages:
            self.send(200, pages[self.path].encode("utf-8"))
        elif self.path.startswith("/flaky/"):
            if self.server.hits[self.path] <= 2:
                self.send(500, b"try again")
            else:
                self.send(200, PLAIN_PAGE.encode("utf-8"))
        elif self.path == "/down":
            self.send(503, b"down for maintenance")
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/wireheading")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/slow":
            time.sleep(1.0)
            try:
                self.send(200, PLAIN_PAGE.encode("utf-8"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as the test wants
        elif self.path == "/archive.zip":
            self.send(200, b"PK\x03\x04", "application/zip")
        elif self.path == "/paper.pdf":
            self.send(200, self.server.pdf, "application/pdf")
        elif self.path == "/latin1":
            self.send(200, LATIN1_PAGE, "text/html; charset=ISO-8859-1")
        else:
            self.send(404, b"no such page")


class PageServer(ThreadingHTTPServer):
    hits: Counter[str]
    user_agents: list[str]
    pdf: bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[PageServer]:
    httpd = PageServer(("127.0.0.1", 0), Handler)
    httpd.hits = Counter()
    httpd.user_agents = []
    pdf = tmp_path_factory.mktemp("pdf") / "paper.pdf"
    httpd.pdf = write_pdf(pdf, [["Corrigibility", "Soares et al. study agents that allow correction."]]).read_bytes()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def base(server: PageServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


@pytest.mark.parametrize(("url", "kind"), [
    ("https://www.lesswrong.com/posts/8ccTZ9ZxpJrvnxt4F/shard-theory", "lesswrong"),
    ("https://lesswrong.com/posts/abc", "lesswrong"),
    ("https://www.alignmentforum.org/posts/abc/title", "lesswrong"),
    ("https://www.greaterwrong.com/posts/abc/title", "lesswrong"),
    ("https://ea.greaterwrong.com/posts/abc", "lesswrong"),
    ("https://arxiv.org/abs/1706.03741", "arxiv"),
    ("https://www.arxiv.org/abs/1706.03741v4", "arxiv"),
    ("https://arxiv.org/pdf/1706.03741", "web"),
    ("https://notlesswrong.com/posts/abc", "web"),
    ("https://lesswrong.com.evil.example/posts/abc", "web"),
    ("https://example.org/abs/1706.03741", "web"),
    ("http://127.0.0.1:8000/posts/abc", "web"),
])
def test_site_kind(url, kind):
    assert site_kind(url) == kind


def test_arxiv_abstract_page(base):
    article = fetch_article(f"{base}/abs/1706.03741", kind="arxiv")
    assert article.title == "Deep reinforcement learning from human preferences"
    assert article.authors == ("Paul Christiano", "Jan Leike")
    assert article.date == "2017-06-12"
    assert article.text == ARXIV_ABSTRACT
    # the versionless arXiv address: a new version replaces the old one in the index
    assert article.url == article.doc_id == "https://arxiv.org/abs/1706.03741"
    assert article.source == "arxiv"


def test_arxiv_abstract_from_the_page_when_the_tag_is_missing(base):
    article = fetch_article(f"{base}/abs/1606.06565", kind="arxiv")
    assert article.text.startswith("Rapid progress in machine learning and artificial intelligence (AI)")
    assert article.text.endswith("impacts of AI technologies on society.")
    assert article.authors == ("Dario Amodei",)
    assert article.url == f"{base}/abs/1606.06565"


def test_lesswrong_post(base):
    article = fetch_article(f"{base}/posts/8ccTZ9ZxpJrvnxt4F/shard-theory", kind="lesswrong")
    assert article.title == "Shard Theory in Nine Theses: a Distillation and Critical Appraisal"
    assert article.authors == ("LawrenceC",)
    assert article.date == "2022-12-19"
    assert article.url == "https://www.lesswrong.com/posts/8ccTZ9ZxpJrvnxt4F/shard-theory-in-nine-theses"
    assert article.doc_id == "https://lesswrong.com/posts/8ccTZ9ZxpJrvnxt4F/shard-theory-in-nine-theses"
    assert article.source == "lesswrong"
    assert "\n## Thesis two: reward is not the optimization target\n" in article.text
    for junk in ("Great post", "LESSWRONG", "Library", "Privacy policy"):
        assert junk not in article.text


def test_greaterwrong_post_without_meta_tags(base):
    url = f"{base}/gw/reward-is-not-the-optimization-target"
    article = fetch_article(url, kind="lesswrong")
    assert article.title == "Reward is not the optimization target"
    assert "Reinforcement learning agents are not, in general, reward maximizers" in article.text
    assert "semantic point" not in article.text
    assert article.url == url


def test_generic_page_and_user_agent(server, base):
    article = fetch_article(f"{base}/wireheading")
    assert (article.title, article.source, article.url) == ("Wireheading", "web", f"{base}/wireheading")
    assert article.text.startswith("# Wireheading\n\nWireheading is when an agent tampers")
    assert server.user_agents[-1].startswith("AlignChat/")


def test_redirect_keeps_the_url_that_was_asked_for(base):
    article = fetch_article(f"{base}/redirect/")
    assert article.url == article.doc_id == f"{base}/redirect"
    assert "Wireheading is when an agent tampers" in article.text


def test_declared_canonical_link_wins(base):
    article = fetch_article(f"{base}/canonical")
    assert article.url == "https://example.org/wireheading/"
    assert article.doc_id == "https://example.org/wireheading"


def test_retries_server_errors(server, base):
    article = fetch_article(f"{base}/flaky/a", retries=2, backoff=0.01)
    assert article.title == "Wireheading"
    assert server.hits["/flaky/a"] == 3


def test_gives_up_after_the_retries(server, base):
    with pytest.raises(LoadError) as caught:
        fetch_article(f"{base}/down", retries=1, backoff=0.01)
    assert str(caught.value) == f"HTTP 503 from {base}/down, retried 1 time"
    assert server.hits["/down"] == 2


def test_client_errors_are_not_retried(server, base):
    with pytest.raises(LoadError) as caught:
        fetch_article(f"{base}/missing", retries=2, backoff=0.01)
    assert str(caught.value) == f"HTTP 404 from {base}/missing"
    assert server.hits["/missing"] == 1


def test_timeout(base):
    started = time.monotonic()
    with pytest.raises(LoadError) as caught:
        fetch_article(f"{base}/slow", timeout=0.2, retries=2, backoff=0.01)
    assert str(caught.value) == f"timed out after 0.2 s fetching {base}/slow, retried 2 times"
    assert time.monotonic() - started < 2.0


def test_connection_refused():
    url = f"http://127.0.0.1:{free_port()}/post"
    with pytest.raises(LoadError, match=rf"^could not fetch {url} \(.+\), retried 1 time$"):
        fetch_article(url, retries=1, backoff=0.01)


def test_not_an_html_page(base):
    with pytest.raises(LoadError) as caught:
        fetch_article(f"{base}/archive.zip")
    assert str(caught.value) == f"not an HTML page (content-type application/zip): {base}/archive.zip"


def test_pdf_answer_is_read_as_a_pdf(base):
    article = fetch_article(f"{base}/paper.pdf")
    assert article.text == "Corrigibility\nSoares et al. study agents that allow correction."
    assert (article.title, article.source, article.doc_id) == ("Corrigibility", "pdf", f"{base}/paper.pdf")


def test_declared_charset_is_honoured(base):
    assert "Le café de la sûreté" in fetch_article(f"{base}/latin1").text


def test_shared_client(base):
    with httpx.Client() as client:
        titles = [fetch_article(f"{base}/{path}", client=client).title for path in ("wireheading", "canonical")]
    assert titles == ["Wireheading", "Wireheading"]


@pytest.mark.parametrize("url", ["ftp://example.org/file", "example.org/post", "https://", "https://exa mple.org/",
                                 "http://[::1/post", "http://example.org:99999/post"])
def test_invalid_urls(url):
    with pytest.raises(LoadError, match="^not an http\\(s\\) URL: "):
        fetch_article(url)


def test_unknown_kind(base):
    with pytest.raises(ValueError, match="unknown site kind 'blog'"):
        fetch_article(f"{base}/wireheading", kind="blog")


def test_url_list_file(tmp_path: Path):
    path = tmp_path / "urls.txt"
    path.write_text(
        "# Papers to ingest\n"
        "\n"
        "https://arxiv.org/abs/1706.03741   # RLHF\n"
        "  https://www.lesswrong.com/posts/8ccTZ9ZxpJrvnxt4F/shard-theory\n"
        "https://example.org/faq#corrigibility\n"
        "https://lesswrong.com/posts/8ccTZ9ZxpJrvnxt4F/shard-theory/   # same post again\n",
        encoding="utf-8",
    )
    assert read_url_file(path) == [
        "https://arxiv.org/abs/1706.03741",
        "https://www.lesswrong.com/posts/8ccTZ9ZxpJrvnxt4F/shard-theory",
        "https://example.org/faq#corrigibility",
    ]


def test_url_list_file_with_a_bad_line(tmp_path: Path):
    path = tmp_path / "urls.txt"
    path.write_text("# list\nhttps://example.org/a\nwww.example.org/b\n", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        read_url_file(path)
    assert str(caught.value) == "urls.txt line 3: not an http(s) URL: 'www.example.org/b'"


def test_public_only_refuses_local_addresses():
    # The web app's guard: a visitor's URL may not make the server read its own network.
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.0.0.1/x", "http://169.254.169.254/latest"):
        with pytest.raises(LoadError, match="private or local address"):
            fetch_article(url, timeout=1, retries=0, public_only=True)
