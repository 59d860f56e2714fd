"""Worker time per second of uploaded exercise video: phone-like clips (1080×1920 portrait, H.264
+ AAC, made here with ffmpeg) run through the worker's own transcode (programs.demos:
probe, H.264/AAC ≤720p MP4 with faststart, poster frame). Wall time and CPU time of ffmpeg and
ffprobe, per second of video.

Run: ``.venv/bin/python -m bench.transcode`` (prints a markdown table; needs ``make ffmpeg``).
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from programs.demos import transcode_file

CLIPS = ((5, "1080x1920"), (15, "1080x1920"), (30, "1080x1920"), (30, "1920x1080"))


def make_clip(path: Path, seconds: int, size: str) -> None:
    # A moving test pattern with noise: closer to a real video's work than a still frame.
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "12M",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="hero-bench-transcode-") as tmp:
        for seconds, size in CLIPS:
            source = Path(tmp) / f"clip-{seconds}-{size}.mp4"
            make_clip(source, seconds, size)
            out_dir = Path(tmp) / f"out-{seconds}-{size}"
            out_dir.mkdir()
            cpu0, wall0 = children_cpu(), time.perf_counter()
            out = transcode_file(source, out_dir, 30, 4096, 600)
            wall, cpu = time.perf_counter() - wall0, children_cpu() - cpu0
            rows.append(
                (seconds, size, source.stat().st_size, f"{out.width}x{out.height}",
                 (out_dir / "video.mp4").stat().st_size, wall, cpu)
            )  # fmt: skip
    print(f"ffmpeg threads: default; cores: {os.cpu_count()}\n")
    print("| clip | upload MB | output | output MB | wall s | wall s per video s | "
          "CPU s per video s |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|")
    for seconds, size, in_bytes, out_size, out_bytes, wall, cpu in rows:
        print(
            f"| {seconds} s {size} | {in_bytes / 1e6:.1f} | {out_size} | {out_bytes / 1e6:.1f} | "
            f"{wall:.1f} | {wall / seconds:.2f} | {cpu / seconds:.2f} |"
        )


if __name__ == "__main__":
    main()
