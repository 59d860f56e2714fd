"""Uploaded pictures: checked for size and type, re-encoded and resized with Pillow, stored.

Re-encoding is the safety step: whatever arrived (a polyglot file, a huge PNG, a photo with GPS
in its EXIF), what is stored and served is a fresh JPEG we wrote, with no metadata. Storage is a
folder under the instance path (`HERO_UPLOAD_DIR` overrides it); an S3-compatible bucket is not
built yet.
"""

from __future__ import annotations

import io
import re
import secrets
import warnings
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
KEY_PATTERN = re.compile(r"^[0-9a-f]{32}\.jpg$")


class ImageRejected(ValueError):
    """The upload is not an image we accept; the message is fit to show the person."""


def process_image(data: bytes, *, max_side: int = 1600, max_bytes: int = MAX_UPLOAD_BYTES) -> bytes:
    """A re-encoded JPEG (longest side at most `max_side`, no metadata) of an uploaded picture.

    Raises ImageRejected for an empty, oversized, unreadable or non-image upload."""
    if not data:
        raise ImageRejected("The file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected(f"Pictures must be under {max_bytes // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise ImageRejected("Upload a JPEG, PNG, WebP or GIF picture.")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageRejected("That picture is too large; send a smaller one.")
            image.load()
            image = ImageOps.exif_transpose(image)
    except ImageRejected:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, SyntaxError) as exc:  # fmt: skip
        raise ImageRejected("That file is not a picture we can read.") from exc
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def upload_dir(bucket: str) -> Path:
    base = current_app.config.get("HERO_UPLOAD_DIR") or Path(current_app.instance_path) / "uploads"
    path = Path(base) / bucket
    path.mkdir(parents=True, exist_ok=True)
    return path


def store_image(bucket: str, data: bytes) -> str:
    """Write re-encoded JPEG bytes to the bucket's folder; returns the new key."""
    key = f"{secrets.token_hex(16)}.jpg"
    (upload_dir(bucket) / key).write_bytes(data)
    return key


def delete_image(bucket: str, key: str) -> None:
    if key and KEY_PATTERN.match(key):
        (upload_dir(bucket) / key).unlink(missing_ok=True)


def image_path(bucket: str, key: str) -> Path | None:
    """The file of a stored key, or None for a key that is malformed or missing."""
    if not KEY_PATTERN.match(key or ""):
        return None
    path = upload_dir(bucket) / key
    return path if path.is_file() else None
