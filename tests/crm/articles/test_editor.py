"""The coach's editor: saving, validation re-rendered per field, cover uploads checked."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from crm.articles import images
from crm.articles.models import Article, ArticleStatus
from crm.articles.services import ArticleError, save_article
from tests.s3_server import BOTH_STORAGES


def _form(**kw):
    data = {"title": "Hips first", "slug": "", "summary": "Why hips.", "body": "Text\n\n[[cta]]",
            "tags": "Knee pain, strength, knee pain", "video_url": "", "status": "published",
            "published_at": ""}  # fmt: skip
    data.update(kw)
    return data


def _count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Article))


@BOTH_STORAGES
def test_coach_writes_and_publishes_an_article_with_a_cover(client, login, coach, db_session, png):
    login(coach)
    assert client.get("/coach/articles/new").status_code == 200
    data = _form(cover=(io.BytesIO(png("PNG", (3000, 2000))), "cover.png"))
    response = client.post("/coach/articles/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    article = db_session.scalar(select(Article))
    assert article.slug == "hips-first"
    assert article.tags == ["knee-pain", "strength"]
    assert article.status == ArticleStatus.PUBLISHED and article.published_at is not None
    stored = images.load_image("articles", article.cover_key)
    with Image.open(io.BytesIO(stored)) as picture:  # re-encoded JPEG, resized to the longest side
        assert picture.format == "JPEG"
        assert max(picture.size) == 1600
    cover = client.get(f"/articles/covers/{article.cover_key}")
    assert cover.status_code == 200 and cover.mimetype == "image/jpeg"
    assert cover.get_data() == stored
    assert "max-age=2592000" in cover.headers["Cache-Control"]
    etag = cover.headers["ETag"]
    cover.close()
    again = client.get(f"/articles/covers/{article.cover_key}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    again.close()
    assert "Hips first" in client.get("/coach/articles").get_data(as_text=True)


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        (b"%PDF-1.4 not a picture", "cover.png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "cover.svg"),
        (b"GIF89a<script>alert(1)</script>", "cover.gif"),
        (b"", "empty.png"),
    ],
)
def test_non_image_covers_are_rejected_with_a_message(
    client, login, coach, db_session, payload, name
):
    login(coach)
    data = _form(cover=(io.BytesIO(payload), name))
    response = client.post("/coach/articles/new", data=data, content_type="multipart/form-data")
    if payload:
        assert response.status_code == 422
        assert "not a picture we can read" in response.get_data(as_text=True)
    assert _count(db_session) == (0 if payload else 1)  # an empty file field is "no cover"


def _multipart(fields: dict[str, str], file_field: str, filename: str, payload: bytes):
    # Built by hand: the test client spools big bodies to a temp file it never closes.
    boundary = "hero-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
        + payload
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_oversized_cover_is_rejected_and_nothing_is_saved(client, login, coach, db_session):
    login(coach)
    big = b"\x89PNG\r\n\x1a\n" + b"0" * (images.MAX_UPLOAD_BYTES + 10)
    body, content_type = _multipart(_form(), "cover", "big.png", big)
    response = client.post("/coach/articles/new", data=body, content_type=content_type)
    assert response.status_code == 422
    assert "under 5 MB" in response.get_data(as_text=True)
    assert _count(db_session) == 0


def test_decompression_bomb_is_rejected():
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # tiny file, 100 megapixels
    with pytest.raises(images.ImageRejected):
        images.process_image(out.getvalue())


def test_photo_metadata_is_stripped(png):
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # camera make; GPS would sit alongside
    Image.new("RGB", (100, 100)).save(out, "JPEG", exif=exif.tobytes())
    cleaned = images.process_image(out.getvalue())
    with Image.open(io.BytesIO(cleaned)) as picture:
        assert dict(picture.getexif()) == {}


def test_invalid_fields_are_shown_per_field_and_nothing_half_saved(
    client, login, coach, db_session, publish
):
    publish(title="Taken", slug="taken")
    login(coach)
    data = _form(slug="taken", video_url="https://evil.example/v", body="[[exercise:no-such-move]]")
    response = client.post("/coach/articles/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Another article already uses this web address." in page
    assert "Paste a YouTube or Vimeo link" in page
    assert "No exercise with id &#39;no-such-move&#39;" in page
    assert _count(db_session) == 1


def test_bad_slug_and_missing_title_are_refused_by_the_service(db_session):
    with pytest.raises(ArticleError) as err:
        save_article(db_session, title="", slug="Not A Slug!", body="x")
    assert set(err.value.errors) == {"title", "slug"}


def test_naive_publish_date_is_the_coachs_local_time(db_session):
    from datetime import datetime

    article = save_article(
        db_session, title="Dated", body="x", status="published",
        published_at=datetime(2025, 1, 15, 9, 0),
    )  # fmt: skip
    # The coach's default zone is America/Los_Angeles (UTC-8 in January).
    assert article.published_at.isoformat() == "2025-01-15T17:00:00+00:00"


@BOTH_STORAGES
def test_editing_replaces_the_cover_and_deleting_removes_it(
    client, login, coach, db_session, publish, png
):
    article = publish(title="Covered", cover=png())
    first_key = article.cover_key
    login(coach)
    data = _form(title="Covered", slug="covered", cover=(io.BytesIO(png("JPEG")), "new.jpg"))
    response = client.post(
        f"/coach/articles/{article.id}/edit", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    db_session.refresh(article)
    assert article.cover_key != first_key
    assert images.load_image("articles", first_key) is None
    new_key = article.cover_key
    assert client.post(f"/coach/articles/{article.id}/delete").status_code == 302
    assert _count(db_session) == 0
    assert images.load_image("articles", new_key) is None


def test_preview_renders_cta_and_warns_about_unknown_exercises(client, login, coach):
    login(coach)
    response = client.post(
        "/coach/articles/preview",
        data={"body": "**Hi**\n\n[[cta]]\n\n[[exercise:nope]]", "title": "My Title"},
    )
    json = response.get_json()
    assert "<strong>Hi</strong>" in json["html"]
    assert "utm_campaign=my-title" in json["html"]
    assert json["unknown_exercises"] == ["nope"]


@BOTH_STORAGES
def test_cover_path_traversal_is_404(client):
    assert client.get("/articles/covers/..%2F..%2Fsecret_key").status_code == 404
    assert client.get("/articles/covers/abc.jpg").status_code == 404
    assert client.get(f"/articles/covers/{'0' * 32}.jpg%0A").status_code == 404
    assert client.get(f"/articles/covers/{'0' * 32}.jpg").status_code == 404  # well formed, absent


def test_cover_upload_with_the_store_down_is_a_form_error_and_saves_nothing(
    client, login, coach, db_session, publish, png, take_s3_down
):
    article = publish(title="Kept", cover=png())
    take_s3_down()
    login(coach)
    data = _form(cover=(io.BytesIO(png()), "cover.png"))
    response = client.post("/coach/articles/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "could not be stored just now" in response.get_data(as_text=True)
    assert _count(db_session) == 1
    data = _form(title="Changed", slug="kept", cover=(io.BytesIO(png()), "cover.png"))
    response = client.post(
        f"/coach/articles/{article.id}/edit", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 422
    db_session.expire_all()
    unchanged = db_session.get(Article, article.id)
    assert (unchanged.title, unchanged.cover_key) == ("Kept", article.cover_key)


@pytest.mark.parametrize("storage_kind", ["s3"])
def test_cover_read_with_the_store_down_is_503_and_deleting_still_works(
    client, login, coach, db_session, publish, png, take_s3_down
):
    article = publish(title="Covered", cover=png())
    take_s3_down()
    response = client.get(f"/articles/covers/{article.cover_key}")
    assert response.status_code == 503
    assert "briefly unavailable" in response.get_data(as_text=True)
    login(coach)  # the row goes; the picture stays behind as a logged orphan
    assert client.post(f"/coach/articles/{article.id}/delete").status_code == 302
    assert _count(db_session) == 0


def test_seed_articles_cli_is_idempotent(cli_runner, coach, db_session):
    from crm.articles.cli import seed_articles

    first = cli_runner.invoke(seed_articles)
    assert "3 demo articles created" in first.output
    second = cli_runner.invoke(seed_articles)
    assert "0 demo articles created" in second.output
    assert _count(db_session) == 3


def test_directives_work_with_the_crlf_line_breaks_browsers_send(client, login, coach):
    login(coach)
    body = "Intro\r\n\r\n[[exercise:clamshell]]\r\n\r\n[[cta]]\r\n"
    html = client.post("/coach/articles/preview", data={"body": body}).get_json()["html"]
    assert "Clamshell</h3>" in html and "Book a FREE call" in html
    assert "[[" not in html
