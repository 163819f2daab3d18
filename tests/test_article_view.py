"""The app's page of one article, where a citation opens at its passage: served by the real route
over the ingested bundled corpus (real Chroma), and rendered from hostile documents."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bot.core.index import IndexStore
from bot.core.types import Article, Citation
from bot.web.article_page import article_html, find_passage
from bot.web.page import article_routes
from bot.web.render import article_url

DOC = "activation-steering"
SENTENCE = "The recipe is almost disarmingly simple."


@pytest.fixture(scope="module")
def client(extractive_engine) -> TestClient:
    return TestClient(Starlette(routes=article_routes(extractive_engine)))


def _citation(quote_text: str, doc_id: str = DOC, url: str = "") -> Citation:
    return Citation(n=1, doc_id=doc_id, title="t", authors=(), url=url, date="", quote=quote_text)


def test_a_citation_opens_its_article_with_the_quoted_passage_highlighted(client):
    page = client.get("/" + article_url(_citation(SENTENCE)))
    assert page.status_code == 200
    assert "script-src" not in page.headers["content-security-policy"]  # no script may run at all
    assert f'<mark id="cited">{SENTENCE}</mark>' in page.text
    assert page.text.count("<mark") == 1
    assert "<h1>Activation steering: ActAdd, contrastive activation addition and representation engineering</h1>" in page.text
    assert "<h2>Contrastive activation addition (CAA)</h2>" in page.text  # Markdown headings shown as headings
    assert "AlignChat editors" in page.text and "2026-11-25" in page.text
    assert "Explains how language models can be steered" in page.text  # the summary
    assert "\ue000" not in page.text and "\ue001" not in page.text


def test_a_quote_cut_short_or_from_the_summary_is_found_whatever_its_whitespace(client):
    cut = "A single prompt pair\n  is noisy. Contrastive activation addition, introduced in Decem…"
    page = client.get("/" + article_url(_citation(cut))).text
    assert '<mark id="cited">A single prompt pair is noisy. Contrastive activation addition, introduced in Decem</mark>' in page
    summary = client.get("/" + article_url(_citation("covering activation addition (Turner et al. 2023)"))).text
    assert '<div class="summary"><p>Explains how language models can be steered at run time by adding vectors to their ' \
           'internal activations, <mark id="cited">covering activation addition (Turner et al. 2023)</mark>' in summary
    gone = client.get("/" + article_url(_citation("A sentence this article never had."))).text
    assert "<mark" not in gone and "not in this article any more" in gone


def test_the_stored_article_is_the_one_the_whole_index_puts_back_together(corpus_settings):
    store = IndexStore.open_for_reading(corpus_settings)
    assert store.article(DOC) == next(a for a in store.stored_articles() if a.doc_id == DOC)
    assert store.article("no-such-article") is None


def test_the_page_ends_with_the_original_works_and_related_articles_to_read_next(client):
    page = client.get("/article/wireheading").text
    works = page.split("<h2>Original works</h2>")[1].split("</ul>")[0]
    assert "Olds" in works and "(1954)" in works and 'href="https://doi.org/10.1037/h0058775"' in works
    related = page.split("<h2>Related articles</h2>")[1].split("</ul>")[0]
    assert '<a href="/article/reward-tampering">Reward tampering</a>' in related
    assert '<a href="/article/reward-is-not-the-optimization-target">Reward is not the optimization target</a>' in related
    article = Article(doc_id="x", title="X", text="Body.", related=("gone", "y"))
    page = article_html(article, "", "/", {"y": "Why"})  # "gone" is no longer in the index
    assert '<a href="/article/y">Why</a>' in page and "gone" not in page


def test_an_unknown_article_is_a_404_page_with_the_way_back(client):
    gone = "https://example.org/removed?p=<b>1</b>"
    page = client.get(f"/article/{quote(gone, safe='')}?quote=x")
    assert page.status_code == 404
    assert "not in the library" in page.text and "may have been removed" in page.text
    assert "https://example.org/removed?p=&lt;b&gt;1&lt;/b&gt;" in page.text  # the whole id, decoded and escaped
    assert '<a href="/">Back to the chat</a>' in page.text


def test_nothing_from_the_document_is_markup_on_its_page():
    article = Article(
        doc_id="evil", title="Reward <script>alert(1)</script>", authors=("<b>Mallory</b>",), date="2024",
        url="javascript:alert(2)", summary='<img src=x onerror="alert(3)">',
        text="# Reward <script>alert(1)</script>\n\n## <i>Part</i> one\nIt <script>alert(4)</script> hacks.\n"
             "Its [link](javascript:alert(5)) too.\n\n- first <u>item</u>\n- second item\n\nLast words.",
    )
    page = article_html(article, "It <script>alert(4)</script> hacks. Its [link](javascript:alert(5)) too. "
                                 "- first <u>item</u> - second", chat_url="/")
    body = page.split("</style>", 1)[1]
    for tag in ("<script", "<img", "<b>", "<i>", "<u>", 'href="javascript'):
        assert tag not in body
    assert "<h1>Reward &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in body and body.count("<h1>") == 1
    assert "<h2>&lt;i&gt;Part&lt;/i&gt; one</h2>" in body  # a heading without a blank line after it
    # the passage runs over a paragraph and a list: each block closes its own <mark>
    assert ('<p><mark id="cited">It &lt;script&gt;alert(4)&lt;/script&gt; hacks. Its [link](javascript:alert(5)) too.</mark></p>'
            '\n<ul><li><mark>first &lt;u&gt;item&lt;/u&gt;</mark></li><li><mark>second</mark> item</li></ul>') in body
    assert "<p>Last words.</p>" in body


@pytest.mark.parametrize("quote_text, found", [
    ("disarmingly   simple", "disarmingly\nsimple"),
    ("almost disarm…", "almost disarm"),
    ("…", None),
    ("", None),
    ("simple disarmingly", None),
    ("a really short quote", "a _**really**_ short quote"),  # quotes are shown without emphasis marks
])
def test_find_passage(quote_text, found):
    text = "It is almost disarmingly\nsimple, a _**really**_ short quote."
    span = find_passage(text, quote_text)
    assert (text[span[0]:span[1]] if span else None) == found
