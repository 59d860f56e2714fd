"""A real S3-compatible peer for tests: moto's server, in this process, on a free loopback port.

The app talks to it through boto3 over HTTP exactly as it would to AWS or MinIO; nothing is
patched. Registered as a pytest plugin in tests/conftest.py. Fixtures:
- `s3_server` (session): the server's endpoint URL. Test credentials sit in the environment
  while it runs, where boto3 reads them as it does in production.
- `storage_kind` (per test): "folder", unless the test is marked BOTH_STORAGES (or parametrises
  `storage_kind` itself).
- `uploads` (per test): the app stores pictures in this test's own folder, or in a fresh bucket
  on `s3_server`; the app's storage is put back afterwards.
- `take_s3_down` (per test): call it to point the app at S3 on a port where nothing listens,
  keeping the bucket: the store is down.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from crm import storage
from tests.peers import free_port

BOTH_STORAGES = pytest.mark.parametrize("storage_kind", ["folder", "s3"])
REGION = "us-east-1"
SETTINGS = ("HERO_UPLOAD_DIR", "HERO_S3_BUCKET", "HERO_S3_ENDPOINT_URL", "HERO_S3_REGION")

_buckets = itertools.count(1)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "hero-test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "hero-test-secret")
        yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def storage_kind() -> str:
    return "folder"


@pytest.fixture
def uploads(request, app, tmp_path, storage_kind) -> Iterator[str]:
    saved = {name: app.config.get(name) for name in SETTINGS}
    saved_backend = app.extensions[storage.EXTENSION]
    app.config.update(HERO_UPLOAD_DIR=str(tmp_path / "uploads"), HERO_S3_BUCKET="")
    if storage_kind == "s3":
        app.config.update(
            HERO_S3_BUCKET=f"hero-test-{next(_buckets)}",
            HERO_S3_ENDPOINT_URL=request.getfixturevalue("s3_server"),
            HERO_S3_REGION=REGION,
        )
    storage.init_app(app)
    if storage_kind == "s3":
        backend = app.extensions[storage.EXTENSION]
        backend.client.create_bucket(Bucket=backend.bucket)
    yield storage_kind
    app.config.update(saved)
    app.extensions[storage.EXTENSION] = saved_backend


@pytest.fixture
def take_s3_down(app, uploads, monkeypatch) -> Callable[[], None]:
    def _down() -> None:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "hero-test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hero-test-secret")
        app.config.update(
            HERO_S3_BUCKET=app.config.get("HERO_S3_BUCKET") or "hero-down",
            HERO_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
            HERO_S3_REGION=REGION,
        )
        storage.init_app(app)

    return _down
