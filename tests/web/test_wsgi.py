"""The production entry point ``web.wsgi``: the app it makes, and its objects kept out of the
garbage collector's full collections (``gc.freeze``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from web.config import PROJECT_ROOT

PROBE = """
import gc
import web.wsgi
frozen = gc.get_freeze_count()
gc.collect()
print(frozen, len(gc.get_objects()), web.wsgi.app.name)
"""


def test_the_wsgi_app_leaves_its_own_objects_out_of_full_collections(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SHEBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'shebao.db'}",
        "SHEBAO_SECRET_KEY": "k" * 64,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, walked, name = done.stdout.split()
    assert name == "web.app"
    # The app's modules, definitions and statements are frozen; a full collection walks only
    # what was made afterwards, a small fraction of them.
    assert int(frozen) > 50_000
    assert int(walked) < int(frozen) // 10
