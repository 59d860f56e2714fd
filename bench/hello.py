"""The baseline: a bare "hello" Flask route, served by gunicorn as Hero is (bench/http.py)."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "hello"
