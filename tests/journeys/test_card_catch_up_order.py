"""Cards left uncollected while the scheduler was down: one catch-up sweep fires each card's
reminder, take-back and seal in their due order, through the doors alone.

A card waiting for activation has three timers (definitions/card.yaml, Foshan's policy: the
reminder after 30 days, the take-back from the branch after 6 months, the seal after a year). The
scheduler is down from before the second card's take-back until after its seal; another card,
already taken back, has its seal due before this card's take-back. ``shebao scheduler --once``
after the downtime takes this card back and then seals it (the take-back is not cancelled by a seal
fired ahead of it). The supervisor's instance page shows that history in that order; the holder
is told only what the last of the timers due together did: a reminder or a take-back that a later
timer due with it made stale fires without its notice (before, the holder got "come and collect
it", "taken back" and "sealed" in the same second).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyotp

from tests.journeys.conftest import Journey

EARLIER = "440604197101010032"  # taken back before the downtime
LATER = "440604197001010019"  # notified just before the downtime

ORDER_ZH = ["开始", "制卡完成", "银行通知领卡", "提醒领卡激活", "逾期未领收回", "逾期未领封存"]


def notified_card(j: Journey, id_number: str) -> int:
    """A card applied for at the counter, made, and its holder told to collect it at ICBC."""
    body = {"id_number": id_number, "channel": "counter", "bank": "icbc", "region_code": "440604"}
    card = int(j.api("POST", "/cards", "counter", body, expect=201)["card"]["id"])
    j.api("POST", f"/cards/{card}/events", "factory", {"event": "produce"}, expect=200)
    j.api("POST", f"/cards/{card}/events", "icbc", {"event": "notify_holder"}, expect=200)
    return card


def notice_kinds(j: Journey, card: int) -> list[str]:
    """The card's notices, oldest first (the API lists the newest first)."""
    notices = j.api("GET", f"/cards/{card}/notices", "icbc", expect=200)["notices"]
    return [n["kind"] for n in reversed(notices)]


def supervisor(j: Journey) -> Any:
    """A supervisor made with ``shebao users create`` and ``shebao users totp``, logged in with
    the password and the code of the authenticator app."""
    password = "journey-pw-boss-2024"
    j.cli("users", "create", "boss", "--group", "supervisor", "--password", password)
    secret = re.search(r"secret: (\w+)", j.cli("users", "totp", "boss").output)
    assert secret
    client = j.app.test_client()
    token = re.compile(r'name="csrf_token" value="([^"]+)"')

    def csrf(path: str) -> str:
        found = token.search(client.get(path).get_data(as_text=True))
        assert found, path
        return found.group(1)

    form = {"username": "boss", "password": password, "csrf_token": csrf("/login")}
    assert client.post("/login", data=form).location == "/login/code"
    code = pyotp.TOTP(secret.group(1)).at(j.clock.now())
    answer = client.post("/login/code", data={"code": code, "csrf_token": csrf("/login/code")})
    assert answer.status_code == 302 and answer.location != "/login"
    return client


def history_events(client: Any, card: int) -> list[str]:
    """The event column of the instance page's history table, in its order."""
    page = client.get(f"/processes/instances/{card}?lang=zh")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    table = html[html.index('id="instance-history"') :]
    table = table[: table.index("</table>")]
    return re.findall(r'<tr><td>\d+</td><td class="name">([^<]*)</td>', table)


def test_a_catch_up_after_a_downtime_takes_back_then_seals_each_card_in_due_order(
    journey_factory: Any,
) -> None:
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("icbc", "bank:icbc")
    earlier = notified_card(j, EARLIER)  # taken back 2023-03-01, sealed 2023-09-01
    j.at("2023-03-10T10:00:00+08:00")
    caught = j.sweep()
    # its reminder, then its take-back: the reminder's notice not sent
    assert (caught["fired"], caught["stale"], caught["overtaken"]) == (2, 0, 1)
    assert j.card(earlier)["collection_place"] == "card_centre"

    j.at("2023-03-11T10:00:00+08:00")
    later = notified_card(j, LATER)  # reminder 04-10, take-back 09-11, seal 2024-03-11
    assert j.card(later)["collection_place"] == "bank_branch"

    # the scheduler was down until June 2024: every one of these is overdue
    j.at("2024-06-01T10:00:00+08:00")
    report = j.sweep()
    assert (report["fired"], report["stale"], report["failed"]) == (4, 0, 0)
    assert report["overtaken"] == 2  # the later card's reminder and take-back
    for card in (earlier, later):
        shown = j.card(card)
        assert shown["state"] == "cancelled" and shown["electronic_card"] == "unusable"
    assert notice_kinds(j, later) == ["card_ready", "card_sealed"]
    assert notice_kinds(j, earlier) == ["card_ready", "card_taken_back", "card_sealed"]
    boss = supervisor(j)
    assert history_events(boss, later) == ORDER_ZH
    assert history_events(boss, earlier) == ORDER_ZH
    assert j.sweep()["claimed"] == 0  # nothing left, nothing fires twice


def test_a_reminder_due_alone_is_sent(journey_factory: Any) -> None:
    """The reminder a sweep fires on time (no later timer of the card due with it) is sent: only
    a reminder overtaken in a catch-up goes unsent."""
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("icbc", "bank:icbc")
    card = notified_card(j, LATER)
    j.at("2022-10-05T10:00:00+08:00")  # the reminder due 10-01, the take-back not before March
    report = j.sweep()
    assert (report["fired"], report["overtaken"]) == (1, 0)
    assert notice_kinds(j, card) == ["card_ready", "collection_reminder"]


def _scheduler_once(j: Journey, *args: str) -> dict[str, Any]:
    """``shebao scheduler --once ARGS``: its summary."""
    result = j.cli("scheduler", "--once", *args)
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def test_a_chunk_boundary_does_not_bring_back_a_stale_reminder(journey_factory: Any) -> None:
    """The catch-up run in chunks of one (``--chunk 1``; a backlog of more than 5,000 timers
    splits into chunks by itself): the holder hears only that the card was sealed, as with one
    chunk (QA: each chunk claimed one timer, so the reminder and the take-back were told too)."""
    j: Journey = journey_factory("2022-09-01T10:00:00+08:00")
    j.token("counter", "channel")
    j.token("factory", "factory")
    j.token("icbc", "bank:icbc")
    card = notified_card(j, LATER)
    j.at("2023-10-01T10:00:00+08:00")  # the reminder, the take-back and the seal all overdue
    report = _scheduler_once(j, "--chunk", "1")
    assert (report["fired"], report["overtaken"]) == (3, 2), report
    assert j.card(card)["state"] == "cancelled"
    assert notice_kinds(j, card) == ["card_ready", "card_sealed"]
