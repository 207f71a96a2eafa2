"""What masking every value a page writes costs: each kind of staff page of a seeded demo (of
each, the largest) rendered with the service's masking (Jinja ``finalize`` =
``web.log_masking.mask_output``) and without it, on the same database, alternating in rounds,
through the test client as a logged-in supervisor.

``ratio`` is the pages' time without masking over their time with it (1.0: masking is free);
held at 0.8 (masking adds at most a quarter), the slowest page's figures reported.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from staff_pages import page_urls
from support import counter_card

from engine.clock import SimulatedClock
from tests.web.staff_login import PASSWORD, client_for
from web.app import create_app, domain_of, engine_of
from web.auth import create_user
from web.log_masking import mask_output
from web.mfa import enroll
from workflows.demo import seed_demo

pytestmark = pytest.mark.bench

NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
PERSON = "11010519491231002X"
ROUNDS = 9


def test_masking_what_pages_write_costs_little(
    tmp_path: Path, sqlite_template: Path, bench_report: Any
) -> None:
    path = tmp_path / "shebao.db"
    shutil.copy(sqlite_template, path)
    config: dict[str, Any] = {
        "SHEBAO_DATABASE_URL": f"sqlite:///{path}",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
    }
    masked = create_app(config, clock=SimulatedClock(NOW))
    engine = engine_of(masked)
    seed_demo(engine, domain_of(masked), people=100)
    counter_card(masked, PERSON, events=("produce", "notify_holder"))
    create_user(engine.db, "boss", PASSWORD, "supervisor", None)
    enroll(engine.db, "boss")
    # a minute on: the supervisor's second code at the same time would be refused as replayed
    plain = create_app(config, clock=SimulatedClock(NOW + timedelta(minutes=1)))
    assert plain.jinja_env.finalize is mask_output  # the service's, before it is taken away
    plain.jinja_env.finalize = None  # before any template is compiled: Jinja reads it then
    clients = {"masked": client_for(masked, "boss"), "plain": client_for(plain, "boss")}
    # the pages both sides show (a search's results page is the app's own: left out)
    # and of each kind of page the one that writes the most (what masking runs on)
    largest: dict[str, tuple[int, str]] = {}
    for page in page_urls(masked):
        answer = clients["masked"].get(page.url)
        if answer.status_code == 200 and len(answer.data) > largest.get(page.endpoint, (-1, ""))[0]:
            largest[page.endpoint] = (len(answer.data), page.url)
    kept = [
        (size, url)
        for size, url in largest.values()
        if clients["plain"].get(url).status_code == 200
    ]
    urls = [url for _, url in kept]
    assert len(urls) >= 15, urls
    spent: dict[str, dict[str, float]] = {"masked": {}, "plain": {}}
    for _ in range(ROUNDS):
        for url in urls:
            for side in ("plain", "masked") if _ % 2 else ("masked", "plain"):
                began = time.perf_counter()
                answer = clients[side].get(url)
                spent[side][url] = spent[side].get(url, 0.0) + time.perf_counter() - began
                assert answer.status_code == 200, (side, url)
    masked_s, plain_s = sum(spent["masked"].values()), sum(spent["plain"].values())
    worst = min(urls, key=lambda url: spent["plain"][url] / spent["masked"][url])
    result: dict[str, Any] = {
        "pages": len(urls),
        "kb_per_page": round(sum(size for size, _ in kept) / len(kept) / 1024, 1),
        "renders_per_side": len(urls) * ROUNDS,
        "masked_ms_per_page": round(masked_s / len(urls) / ROUNDS * 1000, 2),
        "plain_ms_per_page": round(plain_s / len(urls) / ROUNDS * 1000, 2),
        "ratio": round(plain_s / masked_s, 3),
        "worst_page": worst.split("?")[0],
        "worst_page_ratio": round(spent["plain"][worst] / spent["masked"][worst], 3),
    }
    bench_report("page_masking", json.dumps(result))
    assert result["ratio"] >= 0.8, result
