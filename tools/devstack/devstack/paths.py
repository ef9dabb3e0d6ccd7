"""Where things are: the repository's folders, as the tools see them."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # tools/devstack/devstack/paths.py -> the repo
BACKEND = ROOT / "backend"
NGINX_DIR = ROOT / "nginx"
SPA_DIR = ROOT / "frontend" / "dist" / "spa"
PY = sys.executable


def say(message: str) -> None:
    """One progress line, the way every make target prints what it runs."""
    print(f"+ {message}", flush=True)
