"""Loaders for non-Markdown files, run on real files: HTML pages, PDFs, text, ARD JSONL, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from bot.core.identity import canonical_url
from ingest.formats import load_file_with_errors
from ingest.markdown import LoadError, article_from_markdown
from ingest.suffixes import SUPPORTED_SUFFIXES

BLOG_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Reward Hacking Explained | Some Blog</title>
<meta name="citation_title" content="Reward Hacking Explained">
<meta name="citation_author" content="Roe, Jane">
<meta name="citation_author" content="John Smith">
<meta name="citation_publication_date" content="2023/05/01">
<meta name="description" content="Why agents game their rewards.">
<link rel="canonical" href="https://www.example.org/posts/reward-hacking/">
</head><body>
<nav><a href="/">Home</a> <a href="/about">About us</a> <a href="/archive">Archive of everything</a></nav>
<div class="cookie-banner" id="cookie-consent">We use cookies to improve your experience. Accept all cookies?</div>
<main><article>
<h1>Reward Hacking Explained</h1>
<p>Reward hacking happens when an agent exploits flaws in its reward function to score highly without
doing what its designers intended, a failure also called specification gaming.<sup id="fnref1"><a href="#fn1">[1]</a></sup></p>
<h2>A formal view</h2>
<p>Let the true utility be \(U\) and the proxy be $R$; optimising $$\max_\pi \mathbb{E}[R]$$ can diverge
from the true utility when the proxy is misspecified, as Goodhart's law predicts for strong optimisation.</p>
<h2>Examples</h2>
<p>The boat racing agent circled forever collecting points instead of finishing the race, which is the
classic example of reward hacking discussed in many papers on reinforcement learning.</p>
<section class="footnotes"><ol><li id="fn1">Amodei et al., Concrete Problems in AI Safety, 2016.</li></ol></section>
</article></main>
<footer><p>Copyright 2024 Some Blog. All rights reserved. Privacy policy. Terms of service.</p></footer>
</body></html>
"""

BOILERPLATE = ("Archive of everything", "cookies", "Copyright 2024", "Privacy policy")


def write_pdf(path: Path, pages: list[list[str]], **info: str) -> Path:
    """A real PDF whose pages hold the given lines as Helvetica text (info: /Title, /Author...)."""
    writer = PdfWriter()
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"),
        NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    })
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        shown = " ".join(
            "({}) Tj T*".format(line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")) for line in lines
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode("latin-1"))
        page.replace_contents(stream)
    if info:
        writer.add_metadata({f"/{key}": value for key, value in info.items()})
    writer.write(path)
    return path


def load_file(path: Path, relative_path: str) -> list:
    """The file's articles, with no per-line problems (only JSONL files can have those)."""
    articles, errors = load_file_with_errors(path, relative_path)
    assert errors == []
    return articles


def load_one(path: Path) -> object:
    articles = load_file(path, path.name)
    assert len(articles) == 1
    return articles[0]


def test_supported_suffixes():
    assert SUPPORTED_SUFFIXES == {".md", ".markdown", ".mdx", ".html", ".htm", ".pdf", ".txt", ".jsonl"}


@pytest.mark.parametrize("suffix", [".md", ".markdown", ".mdx"])
def test_markdown_is_parsed_like_the_markdown_loader(tmp_path, suffix):
    raw = "---\ntitle: Corrigibility\nurl: https://example.org/c\n---\n\n# Corrigibility\n\nAn agent lets us fix it.\n"
    path = tmp_path / f"c{suffix}"
    path.write_text(raw, encoding="utf-8")
    assert load_file(path, f"c{suffix}") == [article_from_markdown(raw, f"c{suffix}")]


def test_html_page_keeps_the_article_and_drops_the_boilerplate(tmp_path):
    path = tmp_path / "reward-hacking.html"
    path.write_text(BLOG_PAGE, encoding="utf-8")
    article = load_one(path)

    for junk in BOILERPLATE:
        assert junk not in article.text
    assert article.text.startswith("# Reward Hacking Explained\n")
    assert "\n## A formal view\n" in article.text and "\n## Examples\n" in article.text
    assert "boat racing agent circled forever" in article.text
    assert article.title == "Reward Hacking Explained"
    assert article.authors == ("Jane Roe", "John Smith")
    assert article.date == "2023-05-01"
    assert article.url == "https://www.example.org/posts/reward-hacking/"
    assert article.doc_id == canonical_url(article.url) == "https://example.org/posts/reward-hacking"
    assert article.summary == "Why agents game their rewards."
    assert article.source == "html"


def test_html_latex_and_footnotes_survive(tmp_path):
    path = tmp_path / "page.htm"
    path.write_text(BLOG_PAGE, encoding="utf-8")
    text = load_one(path).text
    assert r"$$\max_\pi \mathbb{E}[R]$$" in text
    assert "$U$" in text and "$R$" in text
    # the footnote marker is kept, unbracketed so it cannot pass for a citation marker [n]
    assert "specification gaming.^1" in text and "[1]" not in text
    assert "Amodei et al., Concrete Problems in AI Safety, 2016." in text


def test_html_metadata_from_open_graph_and_author_tags(tmp_path):
    page = """<html><head><title>Ignored</title>
    <meta property="og:title" content="Goal Misgeneralization">
    <meta name="author" content="Jane Roe, John Smith">
    <meta property="article:published_time" content="2022-07-15T18:00:00.000Z">
    <meta property="og:url" content="https://blog.example.com/goal-misgeneralization">
    </head><body><article><p>A capable agent can pursue the wrong goal competently when the training
    environment did not distinguish the intended goal from a proxy that correlated with it.</p></article></body></html>"""
    path = tmp_path / "gm.html"
    path.write_text(page, encoding="utf-8")
    article = load_one(path)
    assert article.title == "Goal Misgeneralization"
    assert article.authors == ("Jane Roe", "John Smith")
    assert article.date == "2022-07-15"
    assert article.doc_id == "https://blog.example.com/goal-misgeneralization"


def test_html_without_metadata_is_named_by_heading_and_path(tmp_path):
    page = "<html><body><main><h1>Shard Theory</h1><p>Values are contextual influences on decisions.</p></main></body></html>"
    path = tmp_path / "shards.html"
    path.write_text(page, encoding="utf-8")
    article = load_file(path, "notes/shards.html")[0]
    assert article.title == "Shard Theory"
    assert article.doc_id == "notes/shards.html"
    assert article.url == "" and article.authors == () and article.date == ""
    assert "Values are contextual influences on decisions." in article.text


def test_html_unusable_canonical_links_are_ignored(tmp_path):
    page = """<html><head><link rel="canonical" href="http://[broken/x"><meta property="og:url" content="/relative">
    </head><body><p>Inner alignment asks whether a learned model pursues the objective it was trained on.</p></body></html>"""
    path = tmp_path / "inner.html"
    path.write_text(page, encoding="utf-8")
    article = load_one(path)
    assert (article.url, article.doc_id) == ("", "inner.html")


def test_html_fragment_keeps_its_headings(tmp_path):
    path = tmp_path / "fragment.html"
    path.write_text(
        "<h2>Corrigibility</h2><p>An agent is corrigible if it lets us correct it.</p>"
        "<h2>Why it is hard</h2><p>Most goals give an agent a reason to resist shutdown.</p>",
        encoding="utf-8",
    )
    article = load_one(path)
    assert article.text == (
        "## Corrigibility\n\nAn agent is corrigible if it lets us correct it.\n\n"
        "## Why it is hard\n\nMost goals give an agent a reason to resist shutdown."
    )
    assert article.title == "Corrigibility"
    assert article.doc_id == "fragment.html"


def test_html_without_text(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>Nothing</title><script>var x = 1;</script></head><body></body></html>",
                    encoding="utf-8")
    with pytest.raises(LoadError, match="^no text found$"):
        load_file(path, "empty.html")


def test_pdf_pages_and_metadata(tmp_path):
    path = write_pdf(
        tmp_path / "rlo.pdf",
        [["Inner alignment (draft)", "Mesa-optimizers are learned optimizers."], ["Deceptive alignment is a risk."]],
        Title="Risks from Learned Optimization", Author="Evan Hubinger; Chris van Merwijk",
    )
    article = load_file(path, "papers/rlo.pdf")[0]
    assert article.text == (
        "Inner alignment (draft)\nMesa-optimizers are learned optimizers.\n\nDeceptive alignment is a risk."
    )
    assert article.title == "Risks from Learned Optimization"
    assert article.authors == ("Evan Hubinger", "Chris van Merwijk")
    assert (article.doc_id, article.source) == ("papers/rlo.pdf", "pdf")


def test_pdf_title_falls_back_to_first_line_then_file_stem(tmp_path):
    short = write_pdf(tmp_path / "short.pdf", [["", "Eliciting Latent Knowledge", "Body text."]])
    assert load_one(short).title == "Eliciting Latent Knowledge"
    long_line = "word " * 40
    long = write_pdf(tmp_path / "long-first-line.pdf", [[long_line, "Body text."]])
    assert load_one(long).title == "long-first-line"


def test_pdf_without_text_layer(tmp_path):
    path = write_pdf(tmp_path / "scan.pdf", [[], []])
    assert len(PdfReader(path).pages) == 2
    with pytest.raises(LoadError, match=r"^PDF has no extractable text \(scanned\?\)$"):
        load_file(path, "scan.pdf")


def test_not_a_pdf(tmp_path):
    path = tmp_path / "fake.pdf"
    path.write_text("this is not a PDF at all", encoding="utf-8")
    with pytest.raises(LoadError, match="^not a readable PDF"):
        load_file(path, "fake.pdf")


def test_text_title_rules(tmp_path):
    short = tmp_path / "wireheading.txt"
    short.write_bytes(b"\xef\xbb\xbf\r\n  Wireheading\r\n\r\nAn agent that edits its own reward signal.\r\n")
    article = load_one(short)
    assert (article.title, article.source, article.doc_id) == ("Wireheading", "text", "wireheading.txt")
    assert article.text == "Wireheading\n\nAn agent that edits its own reward signal."

    long = tmp_path / "notes.txt"
    long.write_text("This first line is a whole paragraph. " * 5 + "\nMore.", encoding="utf-8")
    assert load_one(long).title == "notes"


ARD_GOOD = {
    "id": "abc123", "source": "lesswrong", "title": "Shard Theory in Nine Theses",
    "authors": ["Quintin Pope", "Alex Turner"], "text": "Shards are contextual decision influences.",
    "url": "https://www.lesswrong.com/posts/xqkGmfikqapbJ2YMj/", "date_published": "2022-08-12T00:00:00Z",
    "votes": 120,
}
ARD_NO_URL = {"id": "arxiv-1", "source": "arxiv", "title": "", "authors": "Paul Christiano, Jan Leike",
              "text": "Deep RL from human preferences.\nMore text.", "url": "", "date_published": "2017-06-12"}


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ard_jsonl_keeps_good_lines_and_reports_bad_ones(tmp_path):
    path = write_jsonl(tmp_path / "ard.jsonl", [
        json.dumps(ARD_GOOD),
        "",
        '{"id": "broken", "text": "unterminated',
        json.dumps({"id": "x", "title": "No text here", "url": "https://example.org/x"}),
        json.dumps(["not", "an", "object"]),
        json.dumps(ARD_NO_URL),
        json.dumps({**ARD_GOOD, "url": "https://lesswrong.com/posts/xqkGmfikqapbJ2YMj"}),
        json.dumps({"text": "Orphan text."}),
    ])
    articles, errors = load_file_with_errors(path, "ard.jsonl")
    assert errors == [
        "line 3: not valid JSON",
        "line 4: no text",
        "line 5: not a JSON object",
        "line 7: same article as line 1 (https://lesswrong.com/posts/xqkGmfikqapbJ2YMj)",
        "line 8: neither url nor id to identify the article",
    ]
    first, second = articles
    assert first.doc_id == "https://lesswrong.com/posts/xqkGmfikqapbJ2YMj"
    assert (first.title, first.authors, first.date) == (
        "Shard Theory in Nine Theses", ("Quintin Pope", "Alex Turner"), "2022-08-12")
    assert (first.source, first.url) == ("ard:lesswrong", ARD_GOOD["url"])
    assert second.doc_id == "ard:arxiv-1"
    assert second.title == "Deep RL from human preferences."
    assert second.authors == ("Paul Christiano", "Jan Leike")
    assert second.source == "ard:arxiv"



def test_ard_jsonl_without_any_good_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ["{", "[1]", "{}", '{"text": ""}', "nope"])
    articles, errors = load_file_with_errors(path, "bad.jsonl")
    assert articles == [] and errors[:3] == ["line 1: not valid JSON", "line 2: not a JSON object", "line 3: no text"]


def test_single_article_formats_have_no_line_errors(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Title\n\nBody.", encoding="utf-8")
    articles, errors = load_file_with_errors(path, "a.txt")
    assert len(articles) == 1 and errors == []


@pytest.mark.parametrize("suffix", [".md", ".html", ".txt", ".jsonl"])
def test_not_utf8(tmp_path, suffix):
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes("Le café est prêt".encode("latin-1"))
    with pytest.raises(LoadError, match=r"^not UTF-8 text \(byte 6\): convert it to UTF-8$"):
        load_file(path, path.name)


@pytest.mark.parametrize("suffix", [".md", ".html", ".txt", ".jsonl"])
def test_binary_file(tmp_path, suffix):
    path = tmp_path / f"blob{suffix}"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(LoadError, match=f"^binary file, not text: is it really a {suffix} file\\?$"):
        load_file(path, path.name)


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(LoadError, match="^empty file$"):
        load_file(path, path.name)


@pytest.mark.parametrize(("name", "content"), [("blank.txt", " \n\t\n"), ("blank.jsonl", "\n\n"),
                                               ("blank.html", "<html><body>  </body></html>")])
def test_whitespace_only_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError, match="^no text found$"):
        load_file(path, name)


@pytest.mark.parametrize(("name", "shown"), [("report.docx", "'.docx'"), ("README", "(no suffix)")])
def test_unsupported_file_type(tmp_path, name, shown):
    path = tmp_path / name
    path.write_text("text", encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        load_file(path, name)
    assert str(caught.value) == f"unsupported file type {shown}: give Markdown, HTML, PDF, text or ARD JSONL files"


def test_unreadable_path(tmp_path):
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(LoadError, match="^unreadable: "):
        load_file(folder, "folder.txt")
