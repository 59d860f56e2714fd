"""Test media made on the spot with Debian's ffmpeg (installed by `make ffmpeg`)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_video(
    path: Path, *, seconds: float = 2, size: str = "320x240", audio: bool = True, fmt: str = "mp4"
) -> bytes:
    """A test-pattern video (with a tone when ``audio``) as a phone might send it."""
    args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}"]  # fmt: skip
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    codec = ["-c:v", "libx264", "-pix_fmt", "yuv420p"] if fmt == "mp4" else ["-c:v", "libvpx"]
    args += [*codec, *(["-c:a", "aac"] if audio and fmt == "mp4" else []), "-shortest", str(path)]
    subprocess.run(args, check=True, timeout=120)
    return path.read_bytes()
