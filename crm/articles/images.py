"""Uploaded pictures: checked for size and type, re-encoded and resized with Pillow, stored.

Re-encoding is the safety step: whatever arrived (a polyglot file, a huge PNG, a photo with GPS
in its EXIF), what is stored and served is a fresh JPEG we wrote, with no metadata. Storage is
crm/storage.py: a folder (`HERO_UPLOAD_DIR`, instance/uploads by default), or an S3-compatible
bucket when `HERO_S3_BUCKET` is set, which is what several web machines need.
"""

from __future__ import annotations

import io
import secrets
import warnings

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from crm import storage
from crm.storage import StorageUnavailable

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


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


def store_image(bucket: str, data: bytes) -> str:
    """Store re-encoded JPEG bytes under a new key and return it. Raises StorageUnavailable."""
    key = f"{secrets.token_hex(16)}.jpg"
    storage.put(bucket, key, data)
    return key


def load_image(bucket: str, key: str) -> bytes | None:
    """The stored JPEG, or None for a key that is malformed or missing.

    Raises StorageUnavailable when the store cannot be read."""
    if not storage.valid_key(key):
        return None
    return storage.get(bucket, key)


def delete_image(bucket: str, key: str) -> None:
    """Remove a stored picture if the key is one of ours. Best effort: callers delete after the
    row that pointed at it is gone, so a failure only leaves an orphan, which is logged."""
    if not storage.valid_key(key):
        return
    try:
        storage.delete(bucket, key)
    except StorageUnavailable as exc:
        current_app.logger.warning("picture left in storage: %s", exc)
