"""Real peers for integration tests (filled in by the email/worker work): SMTP server, Celery worker."""
