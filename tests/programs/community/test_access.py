"""Who may see the community: the coach and current clients only; a former client loses access
and her posts are hidden (not deleted); guessed ids answer 404 (IDOR)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from crm.articles import images
from crm.billing.models import Enrolment, EnrolmentStatus
from extensions import db
from programs.community.feed import feed
from programs.community.members import is_member, member_settings
from programs.community.models import Post
from programs.community.moderation import set_hidden
from programs.community.posts import add_comment, create_post
from programs.community.rules import PHOTO_BUCKET, CommunityError, NotAMember
from tests.s3_server import BOTH_STORAGES

MEMBER_PAGES = ["/community", "/community/profile"]


def test_anonymous_visitors_are_sent_to_login(client):
    for url in [*MEMBER_PAGES, "/community/posts/1"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    response = client.post("/community/posts", data={"body": "hi"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_runner_without_enrolment_is_refused_with_a_page_that_says_why(client, make_user, login):
    login(make_user(role="runner"))
    response = client.get("/community")
    assert response.status_code == 403
    assert "for current clients" in response.get_data(as_text=True)
    assert client.post("/community/posts", data={"body": "let me in"}).status_code == 403
    assert db.session.scalar(select(Post)) is None


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (EnrolmentStatus.ACTIVE, True),
        (EnrolmentStatus.PAST_DUE, True),
        (EnrolmentStatus.PAUSED, False),
        (EnrolmentStatus.ENDED, False),
    ],
)
def test_access_follows_the_enrolment(client, make_user, enrol, login, status, allowed):
    user = make_user(role="runner", first_name="Pat")
    enrol(user, status=status)
    login(user)
    response = client.get("/community/profile")
    assert response.status_code == (200 if allowed else 403)


def test_deactivated_runner_is_not_a_member(make_user, enrol, db_session):
    user = make_user(role="runner")
    enrol(user)
    user.active = False
    db_session.commit()
    assert not is_member(db_session, user.id)


def test_coach_is_a_member(client, coach, login):
    login(coach)
    assert client.get("/community").status_code == 200


def test_new_client_chooses_a_display_name_first(client, make_user, enrol, login, db_session):
    user = make_user(role="runner", first_name="Maria", last_name="Lopez")
    enrol(user)
    login(user)
    response = client.get("/community")
    assert response.status_code == 302 and "/community/profile" in response.headers["Location"]
    response = client.post("/community/profile", data={"display_name": "  Speedy   M  "})
    assert response.status_code == 302
    assert member_settings(db_session, user.id).display_name == "Speedy M"
    client.post("/community/posts", data={"body": "Hello team"})
    page = client.get("/community").get_data(as_text=True)
    assert "Speedy M" in page
    assert "Lopez" not in page.split("</nav>", 1)[1] and user.email not in page


def test_former_client_loses_access_and_her_posts_are_hidden_not_deleted(
    client, client_user, login, db_session, coach
):
    leaving, staying = client_user("Ana", "Ana B."), client_user("Bea", "Bea C.")
    post = create_post(db_session, leaving.id, "My first 5K!")
    add_comment(db_session, leaving.id, post.id, "Thanks all")
    other = create_post(db_session, staying.id, "Week 3 done")
    add_comment(db_session, leaving.id, other.id, "Go Bea, from Ana")

    enrolment = db_session.scalar(select(Enrolment).where(Enrolment.user_id == leaving.id))
    enrolment.status = EnrolmentStatus.ENDED
    db_session.commit()

    login(leaving)
    assert client.get("/community").status_code == 403
    assert client.get(f"/community/posts/{other.id}").status_code == 403

    login(staying)
    page = client.get("/community").get_data(as_text=True)
    assert "My first 5K!" not in page and "Week 3 done" in page
    assert client.get(f"/community/posts/{post.id}").status_code == 404
    detail = client.get(f"/community/posts/{other.id}").get_data(as_text=True)
    assert "Go Bea, from Ana" not in detail

    assert db_session.get(Post, post.id) is not None  # kept until the coach deletes it
    login(coach)
    coach_page = client.get("/community").get_data(as_text=True)
    assert "My first 5K!" in coach_page and "Former client" in coach_page


@BOTH_STORAGES
def test_guessing_ids_of_hidden_posts_gives_404_everywhere(
    client, client_user, login, db_session, coach, photo_bytes
):
    author, reader = client_user("Cat"), client_user("Dee")
    post = create_post(db_session, author.id, "with photo", photo_bytes())
    key = post.photo_key
    set_hidden(db_session, coach.id, post.id, True)
    login(reader)
    assert client.get(f"/community/posts/{post.id}").status_code == 404
    assert (
        client.post(f"/community/posts/{post.id}/comments", data={"body": "x"}).status_code == 404
    )
    assert (
        client.post(f"/community/posts/{post.id}/react", data={"emoji": "cheer"}).status_code == 404
    )
    assert (
        client.post(f"/community/posts/{post.id}/report", data={"reason": "x"}).status_code == 404
    )
    assert client.get(f"/community/photos/{key}").status_code == 404
    assert client.get("/community/posts/99999").status_code == 404
    login(coach)
    response = client.get(f"/community/photos/{key}")
    assert response.status_code == 200
    response.close()


@BOTH_STORAGES
def test_photos_are_only_for_members(
    client, client_user, make_user, login, db_session, photo_bytes
):
    author = client_user("Eve")
    post = create_post(db_session, author.id, "", photo_bytes())
    login(author)
    response = client.get(f"/community/photos/{post.photo_key}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert response.get_data() == images.load_image(PHOTO_BUCKET, post.photo_key)
    response.close()
    login(make_user(role="runner"))
    assert client.get(f"/community/photos/{post.photo_key}").status_code == 403


def test_photo_upload_with_the_store_down_is_refused_and_posts_nothing(
    client, client_user, login, db_session, photo_bytes, take_s3_down
):
    login(client_user("Ona"))
    take_s3_down()
    response = client.post(
        "/community/posts",
        data={"body": "look", "photo": (io.BytesIO(photo_bytes()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "could not be stored just now" in response.get_data(as_text=True)
    assert db_session.scalar(select(Post)) is None


@pytest.mark.parametrize("storage_kind", ["s3"])
def test_photo_read_with_the_store_down_is_503_not_500(
    client, client_user, login, db_session, photo_bytes, take_s3_down
):
    author = client_user("Pam")
    post = create_post(db_session, author.id, "pic", photo_bytes())
    take_s3_down()
    login(author)
    assert client.get(f"/community/photos/{post.photo_key}").status_code == 503
    assert "Pam R." in client.get("/community").get_data(
        as_text=True
    )  # the page itself still works


def test_runners_cannot_moderate(client, client_user, login, db_session):
    author, other = client_user("Fay"), client_user("Gus")
    post = create_post(db_session, author.id, "mine")
    login(other)
    for url in (
        f"/coach/community/posts/{post.id}/hide",
        f"/coach/community/posts/{post.id}/delete",
        f"/coach/community/members/{author.id}/mute",
        "/coach/community/threads",
    ):
        assert client.post(url).status_code == 403, url
    assert client.get("/coach/community").status_code == 403
    assert db_session.get(Post, post.id).hidden_at is None


def test_service_refuses_a_non_member_even_without_the_view(make_user, db_session):
    outsider = make_user(role="runner")
    with pytest.raises(NotAMember):
        create_post(db_session, outsider.id, "sneaky")
    with pytest.raises(NotAMember):
        feed(db_session, outsider.id)


def test_oversized_and_non_image_photos_are_rejected(client, client_user, login, db_session):
    login(client_user("Hal"))
    for payload, name in (
        (b"MZ\x90\x00 executable", "run.exe"),
        (b"<svg onload=alert(1)>", "x.svg"),
    ):
        response = client.post(
            "/community/posts",
            data={"body": "look", "photo": (io.BytesIO(payload), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422
        assert "not a picture we can read" in response.get_data(as_text=True)
    big = b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024 + 1)
    with pytest.raises(CommunityError, match="under 5 MB"):
        create_post(db_session, client_user("Ivy").id, "big", big)
    assert db_session.scalar(select(Post)) is None
