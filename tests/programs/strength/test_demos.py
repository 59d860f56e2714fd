"""Demonstrations of library exercises: the coach uploads photos and a short video; bad files are
refused with a clear message and leave nothing behind; the worker transcodes the video; files are
served with range requests."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from crm import storage
from programs.demos import BUCKET, transcode_demo
from programs.strength_models import ExerciseMedia, MediaKind, MediaStatus
from tests.programs.strength.media import make_video
from tests.s3_server import BOTH_STORAGES

EXERCISE = "clamshell"


def _stored_files(app, uploads_kind) -> list[str]:
    backend = app.extensions[storage.EXTENSION]
    if uploads_kind == "s3":
        listed = backend.client.list_objects_v2(Bucket=backend.bucket).get("Contents", [])
        return [o["Key"] for o in listed]
    folder = Path(backend.root) / BUCKET
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def _upload(client, kind: str, data: bytes, name: str):
    # Encoded in memory: the test client would spool a large body to a temporary file that an
    # app refusing the request (413) never reads, and nothing would close.
    boundary, body = encode_multipart({"kind": kind, "file": FileStorage(io.BytesIO(data), name)})
    return client.post(
        f"/coach/exercises/{EXERCISE}/demo",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


@pytest.fixture
def as_coach(client, auth, coach, uploads):
    auth.login(coach)
    return client


@BOTH_STORAGES
def test_a_video_is_checked_queued_transcoded_with_a_poster_and_served_in_ranges(
    as_coach, app, db_session, tmp_path, uploads
):
    raw = make_video(tmp_path / "phone.mp4", seconds=2, size="1280x960")
    response = _upload(as_coach, "video", raw, "phone.mp4")
    assert response.status_code == 302
    row = db_session.scalar(select(ExerciseMedia))
    assert (row.exercise_id, row.kind, row.status) == (
        EXERCISE,
        MediaKind.VIDEO,
        MediaStatus.PROCESSING,
    )
    assert row.source_key and storage.get(BUCKET, row.source_key) == raw
    page = as_coach.get(f"/coach/exercises/{EXERCISE}").get_data(as_text=True)
    assert "being prepared for phones" in page

    # The worker's job, run here (the web request only queued it).
    assert transcode_demo.apply(args=[row.id, row.source_key]).get() == "ready"
    db_session.expire_all()
    row = db_session.get(ExerciseMedia, row.id)
    assert row.status == MediaStatus.READY and row.source_key is None
    assert (row.width, row.height) == (960, 720)  # at most 720p, proportions kept
    assert row.worker_ms > 0
    assert sorted(_stored_files(app, uploads)) == sorted(
        (f"{BUCKET}/{k}" if uploads == "s3" else k) for k in (row.key, row.poster_key)
    )  # the upload itself is gone
    mp4 = storage.get(BUCKET, row.key)
    probe_path = tmp_path / "out.mp4"
    probe_path.write_bytes(mp4)
    info = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
         str(probe_path)], capture_output=True, check=True).stdout)  # fmt: skip
    codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    assert mp4.find(b"moov") < mp4.find(b"mdat")  # faststart: the index comes first
    assert Image.open(io.BytesIO(storage.get(BUCKET, row.poster_key))).format == "JPEG"
    # Running the job again changes nothing.
    assert transcode_demo.apply(args=[row.id, "0" * 32 + ".upload"]).get() == "superseded"

    page = as_coach.get(f"/coach/exercises/{EXERCISE}").get_data(as_text=True)
    assert f"/strength/media/{row.key}" in page and f"/strength/media/{row.poster_key}" in page
    whole = as_coach.get(f"/strength/media/{row.key}")
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = as_coach.get(f"/strength/media/{row.key}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(mp4)}"
    assert part.data == mp4[100:200]


def test_photos_are_re_encoded_and_replace_the_earlier_one(as_coach, app, db_session, uploads):
    def png(color):
        out = io.BytesIO()
        Image.new("RGB", (800, 600), color).save(out, "PNG")
        return out.getvalue()

    assert _upload(as_coach, "start", png("red"), "start.png").status_code == 302
    first = db_session.scalar(select(ExerciseMedia.key))
    assert _upload(as_coach, "start", png("blue"), "start.png").status_code == 302
    row = db_session.scalar(select(ExerciseMedia))
    assert row.key != first and _stored_files(app, uploads) == [row.key]
    assert Image.open(io.BytesIO(storage.get(BUCKET, row.key))).format == "JPEG"
    assert (
        as_coach.post(f"/coach/exercises/{EXERCISE}/demo/start/delete", data={}).status_code == 302
    )
    assert db_session.scalar(select(func.count(ExerciseMedia.id))) == 0
    assert _stored_files(app, uploads) == []


def _refused(client, app, db_session, uploads, kind, data, name, words):
    response = _upload(client, kind, data, name)
    assert response.status_code in (413, 422)
    assert words in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count(ExerciseMedia.id))) == 0
    assert _stored_files(app, uploads) == []


def test_a_file_that_is_not_a_video_is_refused_and_nothing_is_kept(
    as_coach, app, db_session, uploads, tmp_path
):
    _refused(as_coach, app, db_session, uploads, "video", b"#!/bin/sh\necho hi\n" * 50,
             "clip.mp4", "not a video we can read")  # fmt: skip
    # A picture is not a video either.
    out = io.BytesIO()
    Image.new("RGB", (64, 64)).save(out, "PNG")
    _refused(as_coach, app, db_session, uploads, "video", out.getvalue(), "clip.png",
             "not a video we can read")  # fmt: skip
    _refused(as_coach, app, db_session, uploads, "start", b"not a picture", "x.jpg",
             "not a picture we can read")  # fmt: skip


def test_a_video_too_long_is_refused(as_coach, app, db_session, uploads, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_VIDEO_MAX_SECONDS", 2)
    data = make_video(tmp_path / "long.mp4", seconds=4, audio=False)
    _refused(as_coach, app, db_session, uploads, "video", data, "long.mp4",
             "4 seconds long; keep it to 2 seconds")  # fmt: skip


def test_a_video_too_big_is_refused(as_coach, app, db_session, uploads, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_VIDEO_MAX_MB", 1)
    data = make_video(tmp_path / "big.mp4", seconds=1, audio=False) + b"\0" * (1024 * 1024)
    _refused(as_coach, app, db_session, uploads, "video", data, "big.mp4", "under 1 MB")
    # Far beyond the limit, the request body itself is refused, with the same kind of message.
    _refused(as_coach, app, db_session, uploads, "video", data * 3, "big.mp4", "too large")


def test_a_decompression_bomb_is_refused_before_any_decoding(
    as_coach, app, db_session, uploads, tmp_path
):
    # A tiny file declaring an enormous picture: the worker would have to decode it.
    data = make_video(tmp_path / "bomb.mp4", seconds=0.2, size="6000x64", audio=False)
    assert len(data) < 100_000
    _refused(as_coach, app, db_session, uploads, "video", data, "bomb.mp4",
             "at most 4096 pixels on each side")  # fmt: skip


def test_the_worker_marks_a_video_it_cannot_use_as_failed_and_drops_the_upload(
    as_coach, app, db_session, uploads, tmp_path
):
    raw = make_video(tmp_path / "phone.webm", seconds=1, audio=False, fmt="webm")
    assert _upload(as_coach, "video", raw, "phone.webm").status_code == 302
    row = db_session.scalar(select(ExerciseMedia))
    # The upload is damaged in storage between the check and the job.
    storage.put(BUCKET, row.source_key, b"garbage")
    assert transcode_demo.apply(args=[row.id, row.source_key]).get() == "failed"
    db_session.expire_all()
    row = db_session.get(ExerciseMedia, row.id)
    assert row.status == MediaStatus.FAILED and "not a video" in row.error
    assert _stored_files(app, uploads) == []
    page = as_coach.get(f"/coach/exercises/{EXERCISE}").get_data(as_text=True)
    assert "couldn&#39;t be used" in page or "couldn't be used" in page


def test_only_signed_in_people_get_demo_files_and_upload_is_the_coachs(
    client, auth, make_user, uploads
):
    assert client.get(f"/strength/media/{'0' * 32}.mp4").status_code in (302, 401)
    runner = make_user(role="runner")
    auth.login(runner)
    assert client.get(f"/strength/media/{'0' * 32}.mp4").status_code == 404
    assert client.get(f"/strength/media/{'0' * 32}.upload").status_code == 404
    assert _upload(client, "video", b"x", "x.mp4").status_code in (302, 403)


def test_built_in_exercises_have_a_drawing(client, auth, coach):
    auth.login(coach)
    response = client.get(f"/strength/drawings/{EXERCISE}.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg") and "Clamshell" in svg and "<script" not in svg
    assert client.get("/strength/drawings/no-such-thing.svg").status_code == 404
    page = client.get(f"/coach/exercises/{EXERCISE}").get_data(as_text=True)
    assert f"/strength/drawings/{EXERCISE}.svg" in page
