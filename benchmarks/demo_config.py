"""The shipped demo configuration (config/canvas-ladok.toml), as the benchmarks run it."""

from __future__ import annotations

from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / "config" / "canvas-ladok.toml"


def demo_config(path: Path, top: str = "", course: str = "") -> Path:
    """Write the demo configuration to `path`: `top` lines before it, `course` lines added to
    its [[courses]] table (the demo course, Canvas 565, Ladok DV1531, start 2025-09-01)."""
    text = CONFIG.read_text(encoding="utf-8")
    text = text.replace("[[courses]]\n", f"[[courses]]\n{course}\n", 1)
    path.write_text(f"{top}\n{text}", encoding="utf-8")
    return path
