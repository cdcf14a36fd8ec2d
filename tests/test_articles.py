"""Loaders: the seed format and its debris, text, Markdown, HTML, JSONL, and bad files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from qa.errors import DocumentError
from qa.ingest.articles import parse_document
from qa.ingest.dates import parse_timestamp

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_30a3e569ce88eb0e.txt"


def load_one(data: bytes, suffix: str, source: str = "x") -> object:
    articles, problems = parse_document(data, source + suffix, suffix)
    assert len(articles) == 1 and not problems
    return articles[0]


def test_seed_format_metadata_and_clean_body() -> None:
    """The seed's title and timestamp become metadata; the repeated title and the debris are dropped."""
    articles, _ = parse_document(SEED.read_bytes(), "seeds/" + SEED.name, ".txt")
    article = articles[0]
    assert article.title == "Israeli regime pours gas on the fire in Nagorno-Karabakh"
    assert article.published == "2020-10-04T17:37:06"
    assert article.source == "seeds/000_30a3e569ce88eb0e.txt"
    assert article.text.startswith("As the war continues for the eighth day")
    assert "Error" not in article.text
    assert article.title not in article.text
    assert "2020-10-04" not in article.text


def test_plain_text_first_line_is_title() -> None:
    """A .txt file's first line is its title; no date when none is given."""
    article = load_one(b"Bridge approved\n\nThe council approved the bridge on Tuesday.\n", ".txt")
    assert article.title == "Bridge approved"  # type: ignore[attr-defined]
    assert article.text == "The council approved the bridge on Tuesday."  # type: ignore[attr-defined]
    assert article.published is None  # type: ignore[attr-defined]


def test_markdown_front_matter_and_heading() -> None:
    """Markdown front matter gives title, date and URL; a heading title loses its hashes."""
    md = b"---\ntitle: Flood warning\ndate: 2021-05-01 08:00\nurl: https://example.org/f\n---\nRivers rose.\n"
    article = load_one(md, ".md")
    assert (article.title, article.published, article.url) == (  # type: ignore[attr-defined]
        "Flood warning",
        "2021-05-01T08:00:00",
        "https://example.org/f",
    )
    assert load_one(b"# Storm\n\nWinds hit the coast.", ".md").title == "Storm"  # type: ignore[attr-defined]


def test_html_main_text_title_date_without_scripts() -> None:
    """HTML: trafilatura's main text, title and publish date; scripts and navigation never reach the text."""
    html = b"""<html><head><title>Bridge news</title>
    <meta property="article:published_time" content="2021-03-04T10:00:00Z">
    <script>var secret = "SCRIPTTEXT";</script><style>.x{color:red}</style></head>
    <body><nav>Home | About</nav><article><h1>Bridge news</h1>
    <p>The council voted on Tuesday to approve the new bridge, which will cost 40 million dollars.</p>
    <p>Construction starts in May and should take two years, officials said on Wednesday.</p>
    </article><footer>Copyright 2021</footer></body></html>"""
    article = load_one(html, ".html")
    assert article.title == "Bridge news"  # type: ignore[attr-defined]
    assert article.published is not None and article.published.startswith("2021-03-04")  # type: ignore[attr-defined]
    assert "40 million dollars" in article.text  # type: ignore[attr-defined]
    assert "SCRIPTTEXT" not in article.text and "color:red" not in article.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("year", ["1987", "1994", "1899"])
def test_html_date_of_old_news_is_kept(year: str) -> None:
    """A page of news older than 1995 keeps the date its markup gives (htmldate's default floor)."""
    html = f"""<html><head><title>Texaco files</title>
    <meta property="article:published_time" content="{year}-04-13T07:38:36"></head>
    <body><article><h1>Texaco files</h1><time datetime="{year}-04-13T07:38:36">April 13</time>
    <p>Texaco Inc filed for protection under Chapter 11 of the bankruptcy code on Sunday.</p>
    <p>The filing followed a ruling that it must post a bond of more than 10 billion dlrs.</p>
    </article></body></html>""".encode()
    assert load_one(html, ".html").published == f"{year}-04-13T07:38:36"  # type: ignore[attr-defined]


def test_jsonl_valid_lines_and_named_bad_lines() -> None:
    """JSONL: each good line is an article (text required); bad lines are reported with their line number."""
    data = (
        b'{"id": "a1", "title": "One", "text": "First story.", "published": "2020-01-02", "url": "https://e.org/1"}\n'
        b"not json\n"
        b'{"title": "no text"}\n'
        b'{"text": "Second story without a title."}\n'
    )
    articles, problems = parse_document(data, "feed.jsonl", ".jsonl")
    assert articles[0].id == "a1"
    assert articles[0].published == "2020-01-02T00:00:00" and articles[0].url == "https://e.org/1"
    assert articles[1].title.startswith("Second story")
    assert [p[0] for p in problems] == ["feed.jsonl:2", "feed.jsonl:3"]


def test_a_given_date_is_read_or_named_as_unreadable() -> None:
    """`published` / `date` in ISO 8601 or RFC 2822 become the article's date; one that cannot be read
    skips its line (or file) with a reason naming it, never an article silently left undated."""
    lines = [
        {"text": "Day only.", "published": "2005-03-14"},
        {"text": "Feed style.", "date": "Mon, 14 Mar 2005 09:30:00 GMT"},
        {"text": "Relative.", "published": "yesterday"},
        {"text": "No such day.", "published": "2005-02-30"},
        {"text": "A number.", "published": 2005},
        {"text": "None given.", "published": None},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    articles, problems = parse_document(data, "feed.jsonl", ".jsonl")
    assert [a.published for a in articles] == ["2005-03-14T00:00:00", "2005-03-14T09:30:00", None]
    assert [where for where, _ in problems] == ["feed.jsonl:3", "feed.jsonl:4", "feed.jsonl:5"]
    assert all("unreadable date" in reason for _, reason in problems)
    assert "'yesterday'" in problems[0][1] and "'2005-02-30'" in problems[1][1]
    front = b"---\ntitle: Ferry\ndate: not a date\n---\nThe ferry resumed on Friday.\n"
    with pytest.raises(DocumentError, match="unreadable date 'not a date'"):
        parse_document(front, "ferry.md", ".md")
    dated = front.replace(b"not a date", b"2005-03-11")
    assert load_one(dated, ".md").published == "2005-03-11T00:00:00"  # type: ignore[attr-defined]


def test_broken_json_is_named_with_the_place_it_broke() -> None:
    """Python's message for an unterminated string stops at "starting at": the place is given."""
    with pytest.raises(
        DocumentError, match=r"invalid JSON \(Unterminated string starting at line 2, column 9\)"
    ):
        parse_document(b'{"id": "a",\n"text": "unterminated', "a.json", ".json")
    _, problems = parse_document(b'{"text": "One."}\n{"text": "unterminated\n', "b.jsonl", ".jsonl")
    assert problems == [("b.jsonl:2", "invalid JSON (Unterminated string starting at column 10)")]


def test_a_json_list_skips_its_bad_items_and_a_file_its_repeated_ids() -> None:
    """A .json list is read item by item as a .jsonl file line by line (a bad item is skipped and
    named, the others kept), and an id that an earlier item or line of the file has is skipped and
    named, never silently replacing the first."""
    items = [
        {"id": "a", "text": "First."},
        {"title": "no text"},
        {"text": {"body": "x"}},
        {"id": "a", "text": "Again."},
    ]
    articles, problems = parse_document(json.dumps(items).encode(), "batch.json", ".json")
    assert [a.text for a in articles] == ["First."]
    assert problems == [
        ("batch.json#1", "missing or empty 'text'"),
        ("batch.json#2", "'text' must be a string, not dict"),
        ("batch.json#3", "id 'a' again (first at batch.json#0)"),
    ]
    lines = b'{"id": "j1", "text": "One."}\n{"id": "j2", "text": "Two."}\nnot json\n'
    lines += b'{"id": "j1", "text": "Three."}\n'
    articles, problems = parse_document(lines, "feed.jsonl", ".jsonl")
    assert [a.id for a in articles] == ["j1", "j2"] and articles[0].text == "One."
    assert problems == [
        ("feed.jsonl:3", "invalid JSON (Expecting value)"),
        ("feed.jsonl:4", "id 'j1' again (first at feed.jsonl:1)"),
    ]


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        ("Ferry\n\nThe ferry to Łódź resumed on Friday.\n".encode("utf-16"), ".txt"),  # Notepad's "Unicode"
        ("Ferry\n\nThe ferry to Łódź resumed on Friday.\n".encode("utf-32"), ".txt"),
        (
            '<html><head><meta charset="windows-1250"><title>Ferry</title></head><body><article>'
            "<h1>Ferry</h1><p>The ferry to Łódź resumed on Friday, after the river rose for a week.</p>"
            "</article></body></html>".encode("cp1250"),
            ".html",
        ),
    ],
)
def test_text_in_the_encoding_its_file_gives(data: bytes, suffix: str) -> None:
    """UTF-16 and UTF-32 by their byte order mark (they hold NUL bytes, yet are text), and an HTML
    page in the charset it declares, are read as written."""
    article = load_one(data, suffix)
    assert "Łódź" in article.text  # type: ignore[attr-defined]


def test_a_page_without_a_published_date_gets_none_not_its_copyright_year() -> None:
    """A page's date comes from its markup (meta tags, ``<time>``, JSON-LD); a footer's "© 2023" is
    no publication date (a guess from the text made the story 2023-01-01)."""
    page = (
        b"<html><head><title>Bakery opens</title></head><body><article><h1>Bakery opens</h1>"
        b"<p>A new bakery opened on the main square of Eastport on Saturday, selling bread.</p>"
        b"<p>The owner said the oven came from an old farm in the hills.</p></article>"
        b"<footer>&copy; 2023 Valley Post. All rights reserved.</footer></body></html>"
    )
    assert load_one(page, ".html").published is None  # type: ignore[attr-defined]
    dated = page.replace(b"<h1>", b'<time datetime="2005-03-11">11 March 2005</time><h1>')
    assert load_one(dated, ".html").published == "2005-03-11T00:00:00"  # type: ignore[attr-defined]


def test_a_short_story_beats_the_page_s_cookie_banner() -> None:
    """On a page with a one-sentence story, the story is the article, not the longer cookie banner
    beside it; a page that is only an "enable JavaScript" notice is no article."""
    page = (
        b'<html><head><title>Road closed - Valley Post</title></head><body><nav><a href="/">Home</a></nav>'
        b'<div class="cookie-banner"><p>We use cookies to improve your experience and show personalised '
        b"advertising. By clicking Accept you agree to our cookie policy.</p><button>Accept</button></div>"
        b"<article><h1>Road closed</h1><p>Route 12 is closed near Berg after a landslide.</p></article>"
        b"</body></html>"
    )
    article = load_one(page, ".html")
    assert article.text == "Route 12 is closed near Berg after a landslide."  # type: ignore[attr-defined]
    app = (
        b"<html><head><title>JS app</title></head><body>"
        b"<noscript>You need to enable JavaScript to run this app.</noscript><div id=root></div>"
        b"</body></html>"
    )
    with pytest.raises(DocumentError, match="no article text"):
        parse_document(app, "app.html", ".html")


BYLINED = "By Anna Berg | Coastal Wire | 11 March 2005\n\nThe new bridge was opened by the mayor on Thursday."


@pytest.mark.parametrize(
    ("data", "suffix"),
    [
        (("Bridge opens\n\n" + BYLINED).encode(), ".txt"),
        (("Bridge opens\n\n2005-03-11 08:00:00\nBridge opens\n\n" + BYLINED).encode(), ".txt"),
        (json.dumps({"title": "Bridge opens", "text": BYLINED}).encode(), ".jsonl"),
        (
            b"<html><head><title>Bridge opens</title></head><body><article><h1>Bridge opens</h1>"
            b"<p>By Anna Berg | Coastal Wire | 11 March 2005</p>"
            b"<p>The new bridge was opened by the mayor on Thursday, after three years of work on it.</p>"
            b"</article></body></html>",
            ".html",
        ),
    ],
    ids=["text", "seed-format", "jsonl", "html"],
)
def test_a_byline_opening_the_body_is_not_article_text(data: bytes, suffix: str) -> None:
    """A byline ("By <who> | <wire> | <date>") is not something to quote as an answer."""
    text: str = load_one(data, suffix).text  # type: ignore[attr-defined]
    assert text.startswith("The new bridge was opened by the mayor on Thursday")
    assert "Anna Berg" not in text


@pytest.mark.parametrize(
    "first",
    [
        "By noon the bridge was open to traffic.",  # a sentence: it ends with its full stop
        "By the time the mayor arrived, the crowd had gone home and the band had packed up",  # long
        "Bystanders watched the bridge open",  # not the word "by"
    ],
)
def test_a_first_sentence_that_starts_with_by_stays(first: str) -> None:
    article = load_one(f"Bridge opens\n\n{first}\n\nThe mayor spoke.".encode(), ".txt")
    assert article.text.startswith(first)  # type: ignore[attr-defined]


def test_a_body_that_is_only_a_byline_is_kept() -> None:
    assert load_one(b"Note\n\nBy Anna Berg", ".txt").text == "By Anna Berg"  # type: ignore[attr-defined]


def test_latin1_text_is_decoded_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Text that is not UTF-8 is decoded as Windows-1252/Latin-1, with a warning naming the file."""
    with caplog.at_level(logging.WARNING):
        article = load_one("Café news\n\nThe café reopened.".encode("latin-1"), ".txt", "old")
    assert article.text == "The café reopened."  # type: ignore[attr-defined]
    assert "old.txt" in caplog.text


@pytest.mark.parametrize(
    ("data", "suffix", "reason"),
    [
        (b"", ".txt", "empty"),
        (b"   \n\n", ".txt", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", ".txt", "binary"),
        (b"Title only\n", ".txt", "no article text"),
        (b"[1, 2", ".json", "invalid JSON"),
        (b"not json\n", ".jsonl", "no valid article"),
        (b"hello", ".docx", "unsupported"),
    ],
)
def test_bad_documents_raise_a_named_error(data: bytes, suffix: str, reason: str) -> None:
    """Each kind of bad file is one DocumentError naming the file and the reason."""
    with pytest.raises(DocumentError) as info:
        parse_document(data, "bad" + suffix, suffix)
    assert info.value.path.startswith("bad")
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-10-04 17:37:06", "2020-10-04T17:37:06"),
        ("2021-03-04T10:00:00Z", "2021-03-04T10:00:00"),
        ("2020-01-02", "2020-01-02T00:00:00"),
        ("yesterday", None),
        ("2020-13-45", None),
    ],
)
def test_parse_timestamp(value: str, expected: str | None) -> None:
    """Timestamps become ISO 8601 with seconds; anything else is None."""
    assert parse_timestamp(value) == expected
