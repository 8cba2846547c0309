"""Run a snippet in a fresh Python process: for what one test process cannot show (modules imported,
peak memory), because the test process has imported everything already."""

import subprocess
import sys
import textwrap


def run_fresh_python(code: str, timeout: float = 120) -> str:
    """Run ``code`` (dedented) with this interpreter; assert it exits 0 and return its stdout."""
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr
    return res.stdout
