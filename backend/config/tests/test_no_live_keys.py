"""No file of the repository holds a string shaped like a live Stripe key (issue 12, item 11).

Secret scanners flag ``sk_live_…``/``rk_live_…``/``pk_live_…`` followed by a key body, and a
flagged push is blocked; tests build such strings at run time (config/tests/keys.py). A bare
prefix (``startswith("sk_live_")``) is fine: it is not a key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from config.tests.keys import stripe_key

ROOT = Path(__file__).resolve().parents[3]
SKIP_DIRS = {
    ".git", ".venv", "node_modules", "var", "dist", ".node", "__pycache__", "test-results",
    ".quasar", ".mypy_cache", ".ruff_cache",
}  # fmt: skip
LIVE_KEY = re.compile(r"\b(?:sk|rk|pk)_live_[0-9A-Za-z]{8,}")


def live_key_literals(root: Path) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue  # binary files (images) and unreadable ones
            for match in LIVE_KEY.finditer(text):
                found.append(f"{path.relative_to(root)}: {match.group(0)[:12]}...")
    return found


def test_no_file_holds_a_live_stripe_key_shape() -> None:
    assert live_key_literals(ROOT) == []


def test_the_scan_finds_one(tmp_path: Path) -> None:
    (tmp_path / "leak.py").write_text(f"KEY = {stripe_key('rk', 'live', '51H8abcdefghijkl')!r}\n")
    (tmp_path / "fine.py").write_text('LIVE = key.startswith("sk_live_")\n')
    assert live_key_literals(tmp_path) == ["leak.py: rk_live_51H8..."]
