"""The README's first command: `maild demo` runs the main job on embedded defaults and shows it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_opens_threads_notifies_and_holds_the_forgery(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "maild", "demo", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert "case_opened 2, helpdesk 1, ignored 1" in out.stdout
    assert "comment_added 2" in out.stdout
    assert "(held 1)" in out.stdout and "with no proof of the sender" in out.stdout
    # The forged #close changed nothing: case 1 is still open after the held message.
    cases = out.stdout.split("=== Cases", 1)[1]
    assert "00000001  2   in_progress" in cases
    assert "Traceback" not in out.stdout + out.stderr
