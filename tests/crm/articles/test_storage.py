"""Picture storage (crm/storage.py): the same put/get/delete on a folder and on a real
S3-compatible server (moto), with keys checked and each bucket a prefix in the one S3 bucket."""

from __future__ import annotations

import secrets

import pytest

from crm import storage
from tests.s3_server import BOTH_STORAGES

BAD_KEYS = [
    "",
    "../secret_key",
    "abc.jpg",
    f"{'A' * 32}.jpg",
    f"{'0' * 32}.png",
    f"{'0' * 32}.jpg\n",
    f"../{'0' * 32}.jpg",
    f"{'0' * 32}.jpg/../../secret_key",
]
BAD_BUCKETS = ["", "..", "../articles", "articles/..", "Articles", "a/b"]


def _stored(app) -> list[str]:
    """Every object in the app's store, as bucket/key."""
    backend = app.extensions[storage.EXTENSION]
    if isinstance(backend, storage.S3Storage):
        listing = backend.client.list_objects_v2(Bucket=backend.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))
    files = backend.root.rglob("*") if backend.root.exists() else []
    return sorted(path.relative_to(backend.root).as_posix() for path in files if path.is_file())


@BOTH_STORAGES
def test_put_get_delete_round_trip_with_buckets_as_prefixes(app_ctx):
    key = f"{secrets.token_hex(16)}.jpg"
    assert storage.get("articles", key) is None
    storage.put("articles", key, b"a cover")
    storage.put("community", key, b"a photo")
    assert storage.get("articles", key) == b"a cover"
    assert storage.get("community", key) == b"a photo"
    assert _stored(app_ctx) == [f"articles/{key}", f"community/{key}"]
    storage.delete("articles", key)
    storage.delete("articles", key)  # already gone: not an error
    assert storage.get("articles", key) is None
    assert _stored(app_ctx) == [f"community/{key}"]


@BOTH_STORAGES
def test_a_key_or_bucket_outside_the_pattern_is_refused(app_ctx):
    good_key = f"{'0' * 32}.jpg"
    names = [("articles", key) for key in BAD_KEYS] + [(b, good_key) for b in BAD_BUCKETS]
    for bucket, key in names:
        with pytest.raises(ValueError):
            storage.put(bucket, key, b"x")
        with pytest.raises(ValueError):
            storage.get(bucket, key)
        with pytest.raises(ValueError):
            storage.delete(bucket, key)
    assert _stored(app_ctx) == []


def test_storage_settings_are_read_from_the_environment(monkeypatch, tmp_path):
    from config import Config

    monkeypatch.setenv("HERO_UPLOAD_DIR", str(tmp_path / "pictures"))
    monkeypatch.setenv("HERO_S3_BUCKET", "hero-pictures")
    monkeypatch.setenv("HERO_S3_ENDPOINT_URL", "https://minio.example:9000")
    monkeypatch.setenv("HERO_S3_REGION", "eu-west-1")
    settings = Config().as_dict()
    assert settings["HERO_UPLOAD_DIR"] == str(tmp_path / "pictures")
    assert settings["HERO_S3_BUCKET"] == "hero-pictures"
    assert settings["HERO_S3_ENDPOINT_URL"] == "https://minio.example:9000"
    assert settings["HERO_S3_REGION"] == "eu-west-1"
