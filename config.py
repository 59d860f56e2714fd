"""The one place that reads the environment.

Every setting has a safe development default so `make run` works with no servers: SQLite under
`instance/`, an embedded Celery broker on SQLite, SMTP off (emails stay in the outbox table),
Stripe in offline test mode, uploads in a folder. Production sets the variables below.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("HERO_INSTANCE_PATH", ROOT / "instance"))


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once into instance/ for development."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if os.environ.get("HERO_ENV") == "production":
        raise RuntimeError("SECRET_KEY must be set in production (HERO_ENV=production).")
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def embedded_broker_url(instance: Path = INSTANCE) -> str:
    return f"sqla+sqlite:///{instance / 'broker.sqlite'}"


def _normalise_db_url(url: str) -> str:
    # Heroku-style URLs say postgres://; SQLAlchemy wants an explicit driver.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def base_url(env) -> str:
    """BASE_URL, or the development server's own address on PORT (`PORT=8000 make run`)."""
    url = env.get("BASE_URL") or f"http://127.0.0.1:{env.get('PORT') or '5000'}"
    return url.rstrip("/")


class Config:
    """Settings read from the environment. Tests subclass or pass a mapping to create_app."""

    def __init__(self) -> None:
        env = os.environ
        self.HERO_ENV = env.get("HERO_ENV", "development")
        self.SECRET_KEY = _secret_key()
        INSTANCE.mkdir(parents=True, exist_ok=True)
        self.SQLALCHEMY_DATABASE_URI = _normalise_db_url(
            env.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'hero.sqlite'}")
        )
        # On PostgreSQL, crm/connections.py checks a pooled connection at checkout (and pings one
        # that sat idle); SQLAlchemy's pre-ping would add a round trip to every request.
        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        self.BASE_URL = base_url(env)
        https = self.BASE_URL.startswith("https://")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = https
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SECURE = https
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        # "Keep me signed in" lasts this long; each login's cookie is its own, revocable row.
        self.REMEMBER_COOKIE_DURATION = timedelta(days=int(env.get("REMEMBER_DAYS", "30")))
        # API bearer tokens expire this many days after they are issued.
        self.API_TOKEN_DAYS = int(env.get("API_TOKEN_DAYS", "30"))
        # How many reverse proxies (load balancers) stand in front of the web processes: their
        # X-Forwarded-For/-Proto are trusted that many hops deep. 0 trusts none.
        self.TRUSTED_PROXIES = int(env.get("TRUSTED_PROXIES", "0"))
        self.PREFERRED_URL_SCHEME = "https" if https else "http"
        self.MAX_CONTENT_LENGTH = 8 * 1024 * 1024

        self.CELERY = {
            "broker_url": env.get("CELERY_BROKER_URL", embedded_broker_url()),
            "task_ignore_result": True,
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            "timezone": "UTC",
        }

        self.SMTP_HOST = env.get("SMTP_HOST", "")
        self.SMTP_PORT = int(env.get("SMTP_PORT", "25"))
        self.SMTP_USERNAME = env.get("SMTP_USERNAME", "")
        self.SMTP_PASSWORD = env.get("SMTP_PASSWORD", "")
        self.SMTP_STARTTLS = _env_bool("SMTP_STARTTLS")
        self.MAIL_FROM = env.get("MAIL_FROM", "Coach Ali <coach@hero.local>")
        self.BUSINESS_ADDRESS = env.get(
            "BUSINESS_ADDRESS", "0 to 5K Hero · 123 Example Street · Las Vegas, NV 89101"
        )
        self.COACH_TIMEZONE = env.get("COACH_TIMEZONE", "America/Los_Angeles")
        # The email outbox: bounded retries with exponential backoff, and how long a row may sit
        # in queued/sending before the sweeper re-enqueues it (longer than one SMTP attempt).
        self.OUTBOX_MAX_ATTEMPTS = int(env.get("OUTBOX_MAX_ATTEMPTS", "6"))
        self.OUTBOX_RETRY_BASE_SECONDS = float(env.get("OUTBOX_RETRY_BASE_SECONDS", "10"))
        self.OUTBOX_STALE_SECONDS = int(env.get("OUTBOX_STALE_SECONDS", "300"))
        self.SMTP_TIMEOUT = float(env.get("SMTP_TIMEOUT", "30"))
        self.OUTBOX_QUEUE = env.get("OUTBOX_QUEUE", "celery")  # the Celery queue for email sends
        # Seconds a new booking's emails wait, at most, for the worker's task: each web process
        # publishes one a window, for every booking made in it (tasks.outbox.WindowedTask).
        self.BOOKING_EMAILS_WINDOW = float(env.get("BOOKING_EMAILS_WINDOW", "1"))

        self.STRIPE_SECRET_KEY = env.get("STRIPE_SECRET_KEY", "")
        self.STRIPE_PUBLISHABLE_KEY = env.get("STRIPE_PUBLISHABLE_KEY", "")
        self.STRIPE_WEBHOOK_SECRET = env.get("STRIPE_WEBHOOK_SECRET", "")
        self.STRIPE_API_BASE = env.get("STRIPE_API_BASE", "")

        # Uploaded pictures (crm/storage.py): this folder, unless HERO_S3_BUCKET names an
        # S3-compatible bucket, which several web machines need. boto3 reads the credentials
        # from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY itself.
        self.HERO_UPLOAD_DIR = env.get("HERO_UPLOAD_DIR", str(INSTANCE / "uploads"))
        self.HERO_S3_BUCKET = env.get("HERO_S3_BUCKET", "")
        self.HERO_S3_ENDPOINT_URL = env.get("HERO_S3_ENDPOINT_URL", "")  # MinIO, R2…; "" = AWS
        self.HERO_S3_REGION = env.get("HERO_S3_REGION", "")
        # Exercise demonstration videos (programs/demos.py): what an upload may be. The worker
        # transcodes what passes to an MP4 of at most 720p.
        self.DEMO_VIDEO_MAX_MB = int(env.get("DEMO_VIDEO_MAX_MB", "80"))
        self.DEMO_VIDEO_MAX_SECONDS = int(env.get("DEMO_VIDEO_MAX_SECONDS", "30"))
        self.DEMO_VIDEO_MAX_SIDE = int(env.get("DEMO_VIDEO_MAX_SIDE", "4096"))  # pixels
        self.DEMO_TRANSCODE_TIMEOUT = int(env.get("DEMO_TRANSCODE_TIMEOUT", "300"))  # seconds

        self.RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)

        # Structured logs (crm/logging.py): JSON lines in production, readable text in development.
        self.LOG_FORMAT = env.get("LOG_FORMAT", "json" if self.HERO_ENV == "production" else "text")
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO")

        # flask-compress: brotli or gzip for text over 500 bytes; static files (streamed) are
        # left alone here and compressed by nginx in production.
        self.COMPRESS_ALGORITHM = ["br", "gzip"]
        self.COMPRESS_BR_LEVEL = 4
        self.COMPRESS_LEVEL = 6
        self.COMPRESS_STREAMS = False
        self.COMPRESS_MIMETYPES = [
            "text/html", "text/css", "text/plain", "text/calendar", "text/javascript",
            "application/json", "application/javascript", "application/xml",
            "application/atom+xml", "image/svg+xml",
        ]  # fmt: skip

        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.BOOTSTRAP_SERVE_LOCAL = True
        self.API_TITLE = "Hero API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.isupper()}
