"""The one-time id each rendering of a task form carries, and the key a refusal is counted by.

Reloading the page that answered a refused form makes the browser post the same submission again:
that is no new attempt (QA: the count went from 2 to 3). Each rendering of a task's form carries a
new random id in its hidden ``submission`` field (``new_id``: letters only, so it can never hold
the run of digits a page masks as an ID number). ``key`` binds that id to what the form sent (the
task, the user, the outcome and every value, as ``task_confirmation`` writes them) under the app's
secret, so the key gives away nothing of the values. The engine counts a refused completion once
per key (``Engine.complete_task(submission=...)``): the same page posted again as it was is the
same attempt, refused again but not counted or recorded again; a value changed on the same page
(an ID number corrected) or a form rendered anew is a new attempt, and counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string

from werkzeug.datastructures import MultiDict

from web.pages import task_confirmation as tc

FIELD = "submission"
"""The hidden field of the task form that holds its id."""

ID_LENGTH = 22
"""Letters of an id: 22 of 52 letters, about 125 random bits."""

_ID = re.compile(rf"[A-Za-z]{{{ID_LENGTH}}}")
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def new_id() -> str:
    """A fresh submission id for one rendering of a task form (ASCII letters only)."""
    return "".join(secrets.choice(string.ascii_letters) for _ in range(ID_LENGTH))


def key(
    secret: str | bytes,
    task_id: int,
    actor: str,
    outcome: str | None,
    form: MultiDict[str, str],
) -> str | None:
    """The key a refusal of this submission is counted by: a MAC over the form's submission id,
    the task, the user, the outcome and the values ``form`` sends, written in letters (a history
    row keeps it; no page masks it). None when the form carries no well-formed id (a page
    rendered before ids, a hand-made request): each of its refusals counts."""
    sent = form.get(FIELD)
    if sent is None or not _ID.fullmatch(sent):
        return None
    secret_bytes = secret.encode("utf-8") if isinstance(secret, str) else secret
    text = json.dumps(
        ["task-submission", sent, task_id, actor, outcome, tc.values_text(form)],
        ensure_ascii=False,
    )
    mac = hmac.new(secret_bytes, text.encode("utf-8"), hashlib.sha256).hexdigest()
    return mac.translate(_LETTERS)
