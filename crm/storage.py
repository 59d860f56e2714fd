"""Uploaded files by bucket and key: in a folder (the default) or in an S3-compatible bucket.

`put`, `get` and `delete` are the whole seam. The folder is HERO_UPLOAD_DIR (instance/uploads
by default), one sub-folder per bucket: enough for one web machine and for `make run`. With
HERO_S3_BUCKET set, every bucket becomes a key prefix inside that one S3 bucket (AWS, or MinIO,
R2… at HERO_S3_ENDPOINT_URL), so any web machine behind a load balancer reads what another wrote.
boto3 takes the credentials from its own environment variables (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY). They need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket:
without ListBucket S3 answers a missing key with 403, which reads here as "unavailable", not 404.

Objects stay private: the app serves them through its own routes, with their access checks.
Only keys of KEY_PATTERN are ever read or written, so a key taken from a URL cannot reach
anything else in the folder or the bucket.
"""

from __future__ import annotations

import re
from pathlib import Path

from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, current_app

KEY_PATTERN = re.compile(r"[0-9a-f]{32}\.(?:jpg|mp4|upload)")
# What S3 is told each kind of key holds ("upload": a file as received, before it is processed).
CONTENT_TYPES = {"jpg": "image/jpeg", "mp4": "video/mp4", "upload": "application/octet-stream"}
BUCKET_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,39}")
EXTENSION = "storage"


class StorageUnavailable(RuntimeError):
    """The store could not be reached or refused the request: nothing was written or read."""


def valid_key(key: str | None) -> bool:
    return bool(key) and KEY_PATTERN.fullmatch(key) is not None


def _check(bucket: str, key: str) -> None:
    if not BUCKET_PATTERN.fullmatch(bucket or "") or not valid_key(key):
        raise ValueError(f"Refusing storage key {bucket!r}/{key!r}.")


def put(bucket: str, key: str, data: bytes) -> None:
    """Store `data` under bucket/key, replacing what was there. Raises StorageUnavailable."""
    _check(bucket, key)
    _backend().put(bucket, key, data)


def get(bucket: str, key: str) -> bytes | None:
    """The stored bytes, or None when there is no such key. Raises StorageUnavailable."""
    _check(bucket, key)
    return _backend().get(bucket, key)


def delete(bucket: str, key: str) -> None:
    """Remove bucket/key; a missing key is not an error. Raises StorageUnavailable."""
    _check(bucket, key)
    _backend().delete(bucket, key)


def _backend() -> FolderStorage | S3Storage:
    return current_app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    """Choose the backend from the config; the S3 client is made here, once per app."""
    bucket = app.config.get("HERO_S3_BUCKET")
    if bucket:
        backend: FolderStorage | S3Storage = S3Storage(
            _s3_client(app.config.get("HERO_S3_ENDPOINT_URL"), app.config.get("HERO_S3_REGION")),
            bucket,
        )
    else:
        folder = app.config.get("HERO_UPLOAD_DIR") or Path(app.instance_path) / "uploads"
        backend = FolderStorage(Path(folder))
    app.extensions[EXTENSION] = backend


def _s3_client(endpoint_url: str | None = None, region: str | None = None):
    # boto3 takes a quarter of a second to import: only when S3 is configured.
    import boto3

    # Short timeouts and one retry: an upload or a picture must not hold a web worker for long.
    config = BotoConfig(
        connect_timeout=5,
        read_timeout=15,
        retries={"mode": "standard", "max_attempts": 2},
        # MinIO and most S3-compatible servers want the bucket in the path, not the host name.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    # boto3's default session keeps the service model it loaded: a second app's client (a test's,
    # a worker's) takes milliseconds instead of a fifth of a second.
    return boto3.client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
    )


class FolderStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, bucket: str, key: str, data: bytes) -> None:
        try:
            folder = self.root / bucket
            folder.mkdir(parents=True, exist_ok=True)
            (folder / key).write_bytes(data)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {bucket}/{key}: {exc}") from exc

    def get(self, bucket: str, key: str) -> bytes | None:
        try:
            return (self.root / bucket / key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {bucket}/{key}: {exc}") from exc

    def delete(self, bucket: str, key: str) -> None:
        try:
            (self.root / bucket / key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot delete {bucket}/{key}: {exc}") from exc


class S3Storage:
    def __init__(self, client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, bucket: str, key: str, data: bytes) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=f"{bucket}/{key}",
                Body=data,
                ContentType=CONTENT_TYPES[key.rsplit(".", 1)[1]],
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"cannot write {bucket}/{key}: {exc}") from exc

    def get(self, bucket: str, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=f"{bucket}/{key}")
            return response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StorageUnavailable(f"cannot read {bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"cannot read {bucket}/{key}: {exc}") from exc

    def delete(self, bucket: str, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=f"{bucket}/{key}")
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"cannot delete {bucket}/{key}: {exc}") from exc
