"""Demonstrations of library exercises: the coach's photos (start and end position) and a short
video, stored with the pictures (crm/storage.py: a folder or an S3-compatible bucket).

Photos are re-encoded as every uploaded picture is (crm.articles.images). A video is probed in
the request with ffprobe (container, codec, duration, size: a bad file is refused there and
nothing is written), stored as received, and transcoded by the worker with ffmpeg to an H.264/AAC
MP4 of at most 720p with its index up front (so a phone can start and seek it at once) plus a
poster frame; then the upload is deleted. Transcoding never runs in a web request.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from celery import shared_task
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from crm import storage
from crm.articles.images import ImageRejected, process_image, store_image
from crm.storage import StorageUnavailable
from extensions import db
from programs.strength_models import ExerciseMedia, MediaKind, MediaStatus

BUCKET = "demos"
# What ffprobe calls the containers and codecs phones and cameras record.
CONTAINERS = ("mov", "mp4", "matroska", "webm", "3gp")
VIDEO_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"})
MAX_FPS = 240
PROBE_TIMEOUT = 20  # seconds
POSTER_AT = 1.0  # seconds into the video, or its middle when shorter


class DemoRejected(ValueError):
    """The upload is not a demonstration we accept; the message is fit to show the coach."""


@dataclass(frozen=True)
class Probe:
    container: str
    video_codec: str
    audio: bool
    duration: float
    width: int
    height: int
    fps: float


@dataclass(frozen=True)
class Demo:
    """What a page shows for one exercise: storage keys of what is ready."""

    start: str | None = None
    end: str | None = None
    video: str | None = None
    poster: str | None = None
    processing: bool = False
    failed: str = ""

    @property
    def empty(self) -> bool:
        return not (self.start or self.end or self.video)


def _limits() -> dict[str, int]:
    cfg = current_app.config
    return {
        "bytes": cfg["DEMO_VIDEO_MAX_MB"] * 1024 * 1024,
        "seconds": cfg["DEMO_VIDEO_MAX_SECONDS"],
        "side": cfg["DEMO_VIDEO_MAX_SIDE"],
    }


def upload_limit() -> int:
    """The largest request body a video upload may send (the file and a little form)."""
    return _limits()["bytes"] + 64 * 1024


def _ratio(value: str | None) -> float:
    try:
        num, _, den = (value or "0/1").partition("/")
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0


def probe_video(path: Path, timeout: int = PROBE_TIMEOUT) -> Probe:
    """What ffprobe reads in the file's headers. Raises DemoRejected for anything that is not a
    video it understands."""
    try:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
             str(path)],
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise DemoRejected("That file took too long to read; send a shorter video.") from exc
    try:
        info = json.loads(out.stdout or b"{}")
    except ValueError:
        info = {}
    fmt = info.get("format") or {}
    streams = info.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    names = set((fmt.get("format_name") or "").split(","))
    if out.returncode != 0 or video is None or not names & set(CONTAINERS):
        raise DemoRejected("That file is not a video we can read. Send an MP4, MOV or WebM.")
    try:
        duration = float(fmt.get("duration") or video.get("duration") or 0)
    except ValueError:
        duration = 0.0
    return Probe(
        container=fmt.get("format_name", ""),
        video_codec=video.get("codec_name", ""),
        audio=any(s.get("codec_type") == "audio" for s in streams),
        duration=duration,
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        fps=_ratio(video.get("avg_frame_rate")) or _ratio(video.get("r_frame_rate")),
    )


def check_probe(probe: Probe, max_seconds: int, max_side: int) -> None:
    """Refuse what the worker should never have to decode: unknown codecs, no or absurd
    dimensions (a decompression bomb declares a huge frame in a tiny file), too long."""
    if probe.video_codec not in VIDEO_CODECS:
        raise DemoRejected(
            f"That video's format ({probe.video_codec or 'unknown'}) isn't one we can use. "
            "Record it with your phone's camera app and send that file."
        )
    if not (16 <= probe.width <= max_side and 16 <= probe.height <= max_side):
        raise DemoRejected(
            f"That video's picture is {probe.width}×{probe.height}; it must be at most "
            f"{max_side} pixels on each side."
        )
    if probe.fps > MAX_FPS:
        raise DemoRejected("That video's frame rate is too high; record at a normal speed.")
    if probe.duration <= 0:
        raise DemoRejected("We couldn't tell how long that video is; send another file.")
    if probe.duration > max_seconds + 0.5:
        raise DemoRejected(
            f"That video is {probe.duration:.0f} seconds long; keep it to {max_seconds} seconds."
        )


def _row(session: DbSession, exercise_id: str, kind: MediaKind) -> ExerciseMedia | None:
    return session.scalar(
        select(ExerciseMedia).where(
            ExerciseMedia.exercise_id == exercise_id, ExerciseMedia.kind == kind
        )
    )


def _new_key(ext: str) -> str:
    return f"{secrets.token_hex(16)}.{ext}"


def _drop(*keys: str | None) -> None:
    """Best effort: a file no row points at any more. A failure leaves an orphan, logged."""
    for key in keys:
        if key and storage.valid_key(key):
            try:
                storage.delete(BUCKET, key)
            except StorageUnavailable as exc:
                current_app.logger.warning("demo file left in storage: %s", exc)


def _commit_or_drop(session: DbSession, *new_keys: str) -> None:
    try:
        session.commit()
    except Exception:
        session.rollback()
        _drop(*new_keys)
        raise


def add_photo(session: DbSession, exercise_id: str, kind: MediaKind, data: bytes) -> ExerciseMedia:
    """Store (or replace) the start or end photo of an exercise. Raises ImageRejected or
    StorageUnavailable; nothing is kept then. Commits."""
    if kind not in (MediaKind.START, MediaKind.END):
        raise ValueError(kind)
    jpeg = process_image(data)
    key = store_image(BUCKET, jpeg)
    row = _row(session, exercise_id, kind)
    old = row.key if row else None
    if row is None:
        row = ExerciseMedia(exercise_id=exercise_id, kind=kind)
        session.add(row)
    row.status, row.key, row.error = MediaStatus.READY, key, ""
    row.source_bytes = len(data)
    try:
        _commit_or_drop(session, key)
    except IntegrityError:  # the same photo slot filled at the same moment by another request
        raise StorageUnavailable("another upload of this photo is under way") from None
    _drop(old)
    return row


def add_video(session: DbSession, exercise_id: str, data: bytes) -> ExerciseMedia:
    """Check an uploaded video and queue it for the worker (the row is "processing" until
    then). Raises DemoRejected with a sentence for the coach, or StorageUnavailable; nothing is
    written then. Commits, then enqueues ``programs.transcode_demo``."""
    limits = _limits()
    if not data:
        raise DemoRejected("The file is empty.")
    if len(data) > limits["bytes"]:
        raise DemoRejected(f"Videos must be under {limits['bytes'] // (1024 * 1024)} MB.")
    with tempfile.TemporaryDirectory(prefix="hero-demo-") as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        probe = probe_video(path)
    check_probe(probe, limits["seconds"], limits["side"])
    source_key = _new_key("upload")
    storage.put(BUCKET, source_key, data)
    row = _row(session, exercise_id, MediaKind.VIDEO)
    if row is None:
        row = ExerciseMedia(exercise_id=exercise_id, kind=MediaKind.VIDEO)
        session.add(row)
    # The old video stays on show until the new one is ready.
    old_source = row.source_key
    row.status, row.source_key, row.error = MediaStatus.PROCESSING, source_key, ""
    row.source_bytes = len(data)
    row.duration_ms = int(probe.duration * 1000)
    try:
        _commit_or_drop(session, source_key)
    except IntegrityError:
        raise StorageUnavailable("another upload of this video is under way") from None
    _drop(old_source)
    transcode_demo.delay(row.id, source_key)
    return row


def remove_media(session: DbSession, exercise_id: str, kind: MediaKind) -> bool:
    """Delete one demonstration (row, then its files). Commits. False when there was none."""
    row = _row(session, exercise_id, kind)
    if row is None:
        return False
    keys = (row.key, row.poster_key, row.source_key)
    session.delete(row)
    session.commit()
    _drop(*keys)
    return True


def _ffmpeg(args: list[str], timeout: int) -> None:
    try:
        done = subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise DemoRejected("The video took too long to convert.") from exc
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise DemoRejected(f"The video couldn't be converted ({tail[0][:200]}).")


# The short side at most 720 pixels (portrait phone videos stay portrait), both sides even.
SCALE = (
    "scale='if(gte(iw,ih),-2,min(720,trunc(iw/2)*2))':'if(gte(iw,ih),min(720,trunc(ih/2)*2),-2)'"
)


def transcode_file(source: Path, out_dir: Path, max_seconds: int, max_side: int, timeout: int):
    """Probe ``source`` again (never trust what the web checked against what the worker
    reads), transcode it to ``out_dir/video.mp4`` and grab ``out_dir/poster.jpg``. Returns the
    output's Probe. Raises DemoRejected."""
    probe = probe_video(source)
    check_probe(probe, max_seconds, max_side)
    video = out_dir / "video.mp4"
    _ffmpeg(
        ["-i", str(source), "-t", str(max_seconds + 1), "-map", "0:v:0", "-map", "0:a:0?",
         "-vf", SCALE, "-c:v", "libx264", "-preset", "veryfast", "-crf", "26",
         "-profile:v", "main", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-ac", "2",
         "-movflags", "+faststart", str(video)],
        timeout,
    )  # fmt: skip
    out = probe_video(video)
    at = min(POSTER_AT, out.duration / 2)
    poster = out_dir / "poster.jpg"
    _ffmpeg(["-ss", f"{at:.2f}", "-i", str(video), "-frames:v", "1", "-q:v", "3", str(poster)],
            timeout)  # fmt: skip
    return out


def run_transcode(session: DbSession, media_id: int, source_key: str) -> str:
    """The worker's job for one uploaded video: transcode, store MP4 and poster, delete the
    upload, mark the row ready (or failed with the reason). Safe to run twice: a row already
    done, or whose upload was replaced since, is left alone. Returns what happened."""
    row = session.get(ExerciseMedia, media_id)
    if row is None or row.source_key != source_key:
        return "superseded"
    if row.status != MediaStatus.PROCESSING:
        return str(row.status)
    data = storage.get(BUCKET, source_key)
    if data is None:
        row.status, row.error = MediaStatus.FAILED, "The uploaded file was lost; upload it again."
        row.source_key = None
        session.commit()
        return "failed"
    cfg = current_app.config
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hero-transcode-") as tmp:
        source = Path(tmp) / "source"
        source.write_bytes(data)
        try:
            out = transcode_file(
                source, Path(tmp), cfg["DEMO_VIDEO_MAX_SECONDS"], cfg["DEMO_VIDEO_MAX_SIDE"],
                cfg["DEMO_TRANSCODE_TIMEOUT"],
            )  # fmt: skip
            poster = process_image((Path(tmp) / "poster.jpg").read_bytes())
        except (DemoRejected, ImageRejected, OSError) as exc:
            row.status, row.error, row.source_key = MediaStatus.FAILED, str(exc), None
            session.commit()
            _drop(source_key)
            return "failed"
        mp4 = (Path(tmp) / "video.mp4").read_bytes()
    video_key, poster_key = _new_key("mp4"), _new_key("jpg")
    storage.put(BUCKET, video_key, mp4)
    storage.put(BUCKET, poster_key, poster)
    old = (row.key, row.poster_key)
    row.key, row.poster_key, row.source_key = video_key, poster_key, None
    row.status, row.error = MediaStatus.READY, ""
    row.width, row.height, row.duration_ms = out.width, out.height, int(out.duration * 1000)
    row.worker_ms = int((time.perf_counter() - started) * 1000)
    _commit_or_drop(session, video_key, poster_key)
    _drop(source_key, *old)
    return "ready"


@shared_task(name="programs.transcode_demo", acks_late=True)
def transcode_demo(media_id: int, source_key: str) -> str:
    return run_transcode(db.session, media_id, source_key)


def demos_for(session: DbSession, exercise_ids) -> dict[str, Demo]:
    """Each exercise's demonstration (only those with one), in one query."""
    ids = list(dict.fromkeys(exercise_ids))
    if not ids:
        return {}
    rows = session.scalars(select(ExerciseMedia).where(ExerciseMedia.exercise_id.in_(ids)))
    found: dict[str, dict] = {}
    for row in rows:
        d = found.setdefault(row.exercise_id, {})
        if row.kind == MediaKind.VIDEO:
            if row.key and row.poster_key:
                d["video"], d["poster"] = row.key, row.poster_key
            d["processing"] = row.status == MediaStatus.PROCESSING
            d["failed"] = row.error if row.status == MediaStatus.FAILED else ""
        elif row.status == MediaStatus.READY:
            d[str(row.kind)] = row.key
    return {ex_id: Demo(**values) for ex_id, values in found.items()}


def media_file(key: str) -> bytes | None:
    """A stored demonstration file (photo, poster or video), or None. Raises
    StorageUnavailable."""
    if not storage.valid_key(key) or key.endswith(".upload"):
        return None
    return storage.get(BUCKET, key)
