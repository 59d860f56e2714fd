"""What members do: post, react, reply (with an email), report; what the coach does: pin a
weekly thread, hide, delete, mute; milestones in one click; the weekly digest."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from crm.articles import images
from crm.time import utcnow
from programs.community.digest import send_weekly_digest
from programs.community.members import member_settings, save_settings
from programs.community.models import Comment, Post, PostKind, Reaction, Report
from programs.community.moderation import create_thread
from programs.community.posts import add_comment, create_post, share_milestone, toggle_reaction
from programs.community.rules import PER_PAGE, PHOTO_BUCKET, CommunityError, NotAMember
from tasks.models import EmailStatus, OutboxEmail
from tests.s3_server import BOTH_STORAGES


def _emails(db_session, template: str) -> list[OutboxEmail]:
    return list(db_session.scalars(select(OutboxEmail).where(OutboxEmail.template == template)))


@BOTH_STORAGES
def test_member_posts_text_and_a_photo_that_is_re_encoded(
    client, client_user, login, db_session, photo_bytes
):
    from PIL import Image

    login(client_user("Jo"))
    response = client.post(
        "/community/posts",
        data={
            "body": "Ran 5 minutes!",
            "photo": (io.BytesIO(photo_bytes("PNG", (3000, 2000))), "a.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    post = db_session.scalar(select(Post))
    stored = images.load_image(PHOTO_BUCKET, post.photo_key)
    with Image.open(io.BytesIO(stored)) as picture:
        assert picture.format == "JPEG" and max(picture.size) == 1280
    page = client.get("/community").get_data(as_text=True)
    assert "Ran 5 minutes!" in page and f"/community/photos/{post.photo_key}" in page


def test_post_text_is_always_escaped(client, client_user, login, db_session):
    user = client_user("Xa", display='<img src=x onerror="alert(1)">')
    create_post(db_session, user.id, "<script>alert(1)</script>\n**not markdown**")
    login(user)
    page = client.get("/community").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<img src=x onerror="alert(1)">' not in page


def test_empty_post_is_refused_with_a_message(client, client_user, login, db_session):
    login(client_user())
    response = client.post("/community/posts", data={"body": "   "})
    assert response.status_code == 422
    assert "Write something, or add a photo." in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Post)) == 0


def test_reactions_toggle_and_count_once_per_member(client, client_user, login, db_session):
    author, fan = client_user("Kim"), client_user("Lu")
    post = create_post(db_session, author.id, "Week 2 done")
    login(fan)
    client.post(f"/community/posts/{post.id}/react", data={"emoji": "cheer"})
    assert toggle_reaction(db_session, fan.id, post.id, "heart") is True
    assert db_session.scalar(select(func.count()).select_from(Reaction)) == 2
    client.post(f"/community/posts/{post.id}/react", data={"emoji": "cheer"})  # take it back
    assert [r.emoji for r in db_session.scalars(select(Reaction))] == ["heart"]
    with pytest.raises(CommunityError):
        toggle_reaction(db_session, fan.id, post.id, "<script>")


def test_reply_notifies_the_author_by_email_once_and_respects_her_choice(
    client, client_user, login, db_session
):
    author, friend = client_user("Mia", "Mia M."), client_user("Noa", "Noa N.")
    post = create_post(db_session, author.id, "Knees felt great today")
    login(friend)
    response = client.post(
        f"/community/posts/{post.id}/comments", data={"body": "So proud of you!"}
    )
    assert response.status_code == 302
    (email,) = _emails(db_session, "community_reply")
    assert email.to_email == author.email
    assert email.category == "transactional" and email.status == EmailStatus.QUEUED
    assert "Noa N. replied to your post" in email.subject
    assert "So proud of you!" in email.text
    assert f"http://localhost/community/posts/{post.id}" in email.text
    add_comment(db_session, author.id, post.id, "Thank you!")  # own post: no email
    assert len(_emails(db_session, "community_reply")) == 1
    save_settings(db_session, author.id, display_name="Mia M.", notify_replies=False)
    add_comment(db_session, friend.id, post.id, "Again!")
    assert len(_emails(db_session, "community_reply")) == 1
    page = client.get(f"/community/posts/{post.id}").get_data(as_text=True)
    assert "So proud of you!" in page and "Thank you!" in page


def test_member_reports_a_post_once_and_the_coach_hides_it(
    client, client_user, login, db_session, coach
):
    author, reporter = client_user("Oda"), client_user("Pia")
    post = create_post(db_session, author.id, "Buy my supplements!!!")
    login(reporter)
    for _ in range(2):
        client.post(f"/community/posts/{post.id}/report", data={"reason": "spam"})
    assert db_session.scalar(select(func.count()).select_from(Report)) == 1
    login(coach)
    page = client.get("/coach/community").get_data(as_text=True)
    assert "Buy my supplements!!!" in page and "spam" in page
    client.post(f"/coach/community/posts/{post.id}/hide")
    db_session.refresh(post)
    assert post.hidden_at is not None
    assert db_session.scalar(select(Report)).resolved_at is not None
    login(reporter)
    assert "Buy my supplements" not in client.get("/community").get_data(as_text=True)


@BOTH_STORAGES
def test_coach_deletes_a_post_with_its_replies_and_photo(
    client, client_user, login, db_session, coach, photo_bytes
):
    author = client_user("Rae")
    post = create_post(db_session, author.id, "pic", photo_bytes())
    add_comment(db_session, author.id, post.id, "self reply")
    key = post.photo_key
    login(coach)
    assert client.post(f"/coach/community/posts/{post.id}/delete").status_code == 302
    assert db_session.scalar(select(func.count()).select_from(Post)) == 0
    assert db_session.scalar(select(func.count()).select_from(Comment)) == 0
    assert images.load_image(PHOTO_BUCKET, key) is None


def test_muted_member_can_read_but_not_post_reply_or_react(
    client, client_user, login, db_session, coach
):
    loud, other = client_user("Sam"), client_user("Tia")
    post = create_post(db_session, other.id, "hello")
    login(coach)
    client.post(f"/coach/community/members/{loud.id}/mute", data={"muted": "1"})
    login(loud)
    page = client.get("/community")
    assert page.status_code == 200 and "paused your posting" in page.get_data(as_text=True)
    assert client.post("/community/posts", data={"body": "I am loud"}).status_code == 422
    assert (
        client.post(f"/community/posts/{post.id}/comments", data={"body": "x"}).status_code == 422
    )
    with pytest.raises(CommunityError):
        toggle_reaction(db_session, loud.id, post.id, "cheer")
    login(coach)
    client.post(f"/coach/community/members/{loud.id}/mute", data={"muted": "0"})
    assert create_post(db_session, loud.id, "back").id


def test_weekly_thread_is_pinned_on_top_and_replaces_last_weeks(
    client, client_user, login, db_session, coach
):
    member = client_user("Uma")
    first = create_thread(db_session, coach.id, "Last week's wins")
    create_post(db_session, member.id, "newer post")
    login(coach)
    response = client.post(
        "/coach/community/threads", data={"title": "This week's wins", "body": "Share!"}
    )
    assert response.status_code == 302
    db_session.refresh(first)
    assert first.pinned is False
    login(member)
    page = client.get("/community").get_data(as_text=True)
    assert page.index("This week&#39;s wins") < page.index("newer post")
    thread = db_session.scalar(select(Post).where(Post.pinned.is_(True)))
    assert thread.kind == PostKind.THREAD and thread.author_id == coach.id
    assert "Coach Ali" in page
    with pytest.raises(NotAMember):
        create_thread(db_session, member.id, "I am not the coach")


def test_milestone_is_shared_in_one_click_once(client, make_user, enrol, login, db_session):
    runner = make_user(role="runner", first_name="Vi")
    enrol(runner)  # has not visited the community yet: one click still works
    login(runner)
    for _ in range(2):
        response = client.post(
            "/community/milestones",
            data={"kind": "continuous_10", "text": "No walking!", "next": "/portal"},
        )
        assert response.status_code == 302 and response.headers["Location"] == "/portal"
    posts = db_session.scalars(select(Post)).all()
    assert len(posts) == 1 and posts[0].kind == PostKind.MILESTONE
    assert member_settings(db_session, runner.id).display_name == "Vi"
    page = client.get("/community").get_data(as_text=True)
    assert "ran 10 minutes without walking" in page
    race = share_milestone(db_session, runner.id, "race_finished", "Princess 5K!")
    again = share_milestone(db_session, runner.id, "race_finished", "Another 5K!")
    assert race.id != again.id  # races can be finished more than once
    with pytest.raises(CommunityError):
        share_milestone(db_session, runner.id, "ran-a-marathon")


def test_milestone_redirect_refuses_other_sites(client, client_user, login):
    login(client_user("Wes"))
    response = client.post(
        "/community/milestones", data={"kind": "first_run", "next": "https://evil.example/"}
    )
    assert response.headers["Location"].startswith("/community")


def test_weekly_digest_goes_to_consenting_clients_once_per_week(
    client_user, make_user, enrol, db_session, coach
):
    keen = client_user("Xia")
    no_consent = make_user(role="runner", first_name="Yan")
    enrol(no_consent, consent=False)
    save_settings(db_session, no_consent.id, display_name="Yan", weekly_digest=True)
    opted_out = client_user("Zoe")
    save_settings(db_session, opted_out.id, display_name="Zoe", weekly_digest=False)
    create_thread(db_session, coach.id, "This week's wins")
    share_milestone(db_session, keen.id, "continuous_20")

    assert send_weekly_digest(db_session) == 2
    assert send_weekly_digest(db_session) == 0  # same week: nothing new
    rows = {r.to_email: r for r in _emails(db_session, "community_digest")}
    assert set(rows) == {keen.email, no_consent.email}
    assert rows[keen.email].status == EmailStatus.QUEUED
    assert rows[keen.email].category == "marketing"
    assert "unsubscribe" in rows[keen.email].text.lower()
    assert "ran 20 minutes without walking" in rows[keen.email].text
    assert rows[no_consent.email].status == EmailStatus.SUPPRESSED  # no marketing consent

    next_week = utcnow() + timedelta(days=7)
    assert send_weekly_digest(db_session, now=next_week + timedelta(days=7)) == 0


def test_digest_and_reply_links_match_the_routes(app_ctx):
    with app_ctx.test_request_context():
        assert url_for("community.post_detail", post_id=7) == "/community/posts/7"
        assert url_for("community.feed") == "/community"
        assert url_for("community.profile") == "/community/profile"


def test_digest_cli(cli_runner, client_user, db_session):
    from programs.community.cli import community_digest

    create_post(db_session, client_user("Ann").id, "hi")
    assert "1 digests queued." in cli_runner.invoke(community_digest).output


def test_feed_pages_with_a_keyset(client, client_user, login, db_session):
    user = client_user("Bo")
    for i in range(PER_PAGE + 3):
        db_session.add(Post(author_id=user.id, body=f"post number {i:02d}"))
    db_session.commit()
    login(user)
    first = client.get("/community").get_data(as_text=True)
    assert "post number 22" in first and "post number 02" not in first
    marker = first.split("/community?before=", 1)[1].split('"', 1)[0]
    second = client.get(f"/community?before={marker}").get_data(as_text=True)
    assert "post number 02" in second and "post number 22" not in second


def test_joining_starts_with_emails_unticked_a_welcome_post_and_how_it_works(
    client, make_user, enrol, login, db_session, coach
):
    runner = make_user(role="runner", first_name="Lena")
    enrol(runner)
    login(runner)
    join = client.get("/community/profile")
    page = join.get_data(as_text=True)
    assert "Welcome to the community" in page
    for name in ("notify_replies", "weekly_digest"):
        box = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert "checked" not in box, box

    response = client.post("/community/profile", data={"display_name": "Lena L."})
    assert response.status_code == 302
    settings = member_settings(db_session, runner.id)
    assert settings.notify_replies is False and settings.weekly_digest is False

    feed = client.get("/community").get_data(as_text=True)
    assert "Welcome to the community!" in feed  # the coach's pinned welcome
    assert "How this works" in feed
    (welcome,) = db_session.scalars(select(Post)).all()
    assert welcome.author_id == coach.id and welcome.pinned

    # A second member joining does not get a second welcome; after her first post the
    # "how this works" note has done its job.
    other = make_user(role="runner", first_name="Ivy")
    enrol(other)
    login(other)
    client.post("/community/profile", data={"display_name": "Ivy", "weekly_digest": "y"})
    assert member_settings(db_session, other.id).weekly_digest is True
    assert len(db_session.scalars(select(Post)).all()) == 1
    create_post(db_session, other.id, "First run done!")
    assert "How this works" not in client.get("/community").get_data(as_text=True)
