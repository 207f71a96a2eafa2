"""A confirmation bound to what it confirmed: the token the inbox's confirmation page carries.

An outcome that ends the instance is asked back for confirmation first (``inbox.complete_view``).
The confirmation page's hidden ``confirmed`` field holds ``<outcome>:<mac>``, where the MAC (keyed
by the app's secret, so the page gives away nothing of the values, ID numbers included) covers
the task, the user, the outcome and every value of the form as it was sent. A completion counts
as confirmed only when the token it carries covers exactly the outcome and values it sends: a
value changed after the confirmation (another card to keep, another refund note) asks for the
confirmation again, naming the new values, and changes nothing before that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection

from werkzeug.datastructures import MultiDict

NOT_VALUES = ("csrf_token", "outcome", "confirmed", "edit", "submission")
"""The form's fields that are no values of the task: the page's own (``submission``: the
rendering's one-time id, ``task_submission``)."""


def _values(form: MultiDict[str, str], leave: Collection[str]) -> str:
    """The form's values, in one canonical text: per field its non-empty values, sorted (an
    empty field is one not sent; ticked boxes in any order are the same choice)."""
    values = {
        name: sorted(v for v in sent if v != "")
        for name, sent in form.to_dict(flat=False).items()
        if name not in leave
    }
    return json.dumps({k: v for k, v in values.items() if v}, sort_keys=True, ensure_ascii=False)


def values_text(form: MultiDict[str, str]) -> str:
    """The task's values ``form`` sends (not the page's own fields), in one canonical text."""
    return _values(form, NOT_VALUES)


MAC_GROUP = 16
"""Hex digits per group of the written MAC: fewer than the 17 digits an ID number starts with."""


def digest(
    secret: str | bytes, task_id: int, actor: str, outcome: str, form: MultiDict[str, str]
) -> str:
    """The MAC over the task, the user, the outcome and ``form``'s values, in hex, whole."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    values = _values(form, NOT_VALUES)
    text = json.dumps(["task-confirmation", task_id, actor, outcome, values], ensure_ascii=False)
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def token(
    secret: str | bytes, task_id: int, actor: str, outcome: str, form: MultiDict[str, str]
) -> str:
    """The ``confirmed`` value of the confirmation page of ``outcome`` with ``form``'s values:
    the outcome and the MAC, in groups a page's masking leaves alone."""
    mac = digest(secret, task_id, actor, outcome, form)
    return f"{outcome}:" + "-".join(mac[i : i + MAC_GROUP] for i in range(0, len(mac), MAC_GROUP))


def holds(
    secret: str | bytes,
    sent: str | None,
    task_id: int,
    actor: str,
    outcome: str,
    form: MultiDict[str, str],
) -> bool:
    """Whether ``sent`` (the form's ``confirmed``) confirms exactly ``outcome`` with the values
    ``form`` sends, for this task and user."""
    if not sent:
        return False
    return hmac.compare_digest(sent, token(secret, task_id, actor, outcome, form))
