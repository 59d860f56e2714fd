"""Markdown is rendered and sanitised: no stored XSS, whatever the coach (or a thief of her
password) types. Pure rendering tests plus one through the public page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from crm.articles.render import markdown_to_html, parse_video, render_body

XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](javascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)//>",
    '![x" onerror="alert(1)](http://example.com/a.png)',
    '![x](http://example.com/a.png "t\\" onerror=\\"alert(1)")',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="width: expression(alert(1))">x</div>',
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=javascript:alert(1)//>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "<<script>script>alert(1)<</script>/script>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
    "<!--<script>alert(1)//-->",
    '[x](http://example.com"onmouseover="alert(1))',
    '<a href="http://ok.example" onclick="alert(1)">x</a>',
    "[[cta]]<script>alert(1)</script>",
    '[[exercise:clamshell"><script>alert(1)</script>]]',
]

# Tags the page may contain: the Markdown allowlist plus our own CTA/exercise templates.
SAFE_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "s", "del", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
    "aside", "div", "span",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def _assert_safe(html: str) -> None:
    """Parse the output as a browser would and look at every real tag and attribute."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in SAFE_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on"), (name, html)
            assert name != "style", html
            if name in ("href", "src"):
                # Browsers ignore whitespace and control characters inside a scheme.
                squeezed = re.sub(r"[\x00-\x20]", "", value or "").lower()
                assert not squeezed.startswith(("javascript:", "vbscript:", "data:")), html


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_markdown_output_has_no_executable_markup(payload):
    _assert_safe(markdown_to_html(payload))


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_rendered_body_with_directives_is_safe(app_ctx, payload):
    with app_ctx.test_request_context():
        html = str(render_body(f"Intro\n\n{payload}\n\n[[cta]]\n", booking_url="/book?x=1"))
    _assert_safe(html)


def test_ordinary_markdown_still_renders():
    html = markdown_to_html(
        "# Title\n\nSome **bold** and *em* and [a link](https://example.com/x).\n\n"
        "- one\n- two\n\n![hips](https://example.com/hips.png)"
    )
    assert "<h2>Title</h2>" in html  # the page's only h1 is the article title
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert '<a href="https://example.com/x" rel="noopener noreferrer">a link</a>' in html
    assert "<li>one</li>" in html
    assert '<img src="https://example.com/hips.png" alt="hips">' in html


def test_raw_html_is_shown_as_text_not_markup():
    html = markdown_to_html("<b>bold?</b>")
    assert "<b>" not in html and "&lt;b&gt;" in html


def test_stored_article_page_carries_no_payload(client, publish):
    body = "\n\n".join(XSS_CORPUS)
    publish(title="Corpus", body=body, summary='<img src=x onerror="alert(1)">',
            tags="<script>alert(1)</script>")  # fmt: skip
    html = client.get("/articles/corpus").get_data(as_text=True)
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.found:
        attrs = dict(attrs)
        if tag == "script":  # only files and the JSON-LD data block
            assert attrs.get("src") or attrs.get("type") == "application/ld+json", html
        assert tag not in {"svg", "iframe", "object", "embed", "base", "math"}
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                squeezed = re.sub(r"[\x00-\x20]", "", value or "").lower()
                assert not squeezed.startswith(("javascript:", "vbscript:", "data:")), value
    assert html.count("<style") == 1 and html.index("<style") < html.index("<body")  # ours
    body_html = html.split('<div class="article-body">', 1)[1].split("</article>", 1)[0]
    body_html = body_html.rsplit('<aside class="article-cta', 1)[0]
    _assert_safe(body_html)


def test_preview_endpoint_sanitises_too(client, login, coach):
    login(coach)
    response = client.post("/coach/articles/preview", data={"body": "\n\n".join(XSS_CORPUS)})
    assert response.status_code == 200
    _assert_safe(response.get_json()["html"])


@pytest.mark.parametrize(
    ("url", "embed"),
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ?t=3", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("https://vimeo.com/76979871", "https://player.vimeo.com/video/76979871?dnt=1"),
    ],
)  # fmt: skip
def test_youtube_and_vimeo_links_become_privacy_embeds(url, embed):
    assert parse_video(url).embed_url == embed


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://evil.example/watch?v=dQw4w9WgXcQ",
        'https://www.youtube.com/watch?v=bad"><script>',
        "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "ftp://vimeo.com/123",
        "",
    ],
)
def test_other_video_links_are_refused(url):
    assert parse_video(url) is None
