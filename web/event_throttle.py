"""How many refused API calls per client address become security events: a flood of calls without
a token, or with a wrong one, must not write a row (and a commit) per request.

Each worker keeps, per (event kind, client address), a window of ``WINDOW`` seconds (60): the
first ``PER_WINDOW`` (20) refusals in it are recorded as usual, the rest are only counted; the
next one recorded after the window says how many were left out before it (``suppressed_before``
in its detail). So probing still shows (who, from where, when it began and how much), at a
bounded cost: at most ``PER_WINDOW`` rows a minute per address and kind in each worker. A worker
keeps at most ``MAX_KEYS`` addresses (the oldest window forgotten first), so that many addresses
cost memory only up to that bound. The address is ``request.remote_addr``, as the login throttle
takes it (``web.login_throttle``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

WINDOW = 60.0
PER_WINDOW = 20
MAX_KEYS = 10_000
EXTENSION = "shebao_event_throttle"


@dataclass
class _Window:
    began: float
    recorded: int = 0
    suppressed: int = 0
    """Left out in this window."""
    owed: int = 0
    """Left out in earlier windows, not yet said by a recorded event."""


class EventThrottle:
    """The windows of one worker (thread-safe: waitress serves requests on threads)."""

    def __init__(
        self,
        per_window: int = PER_WINDOW,
        window: float = WINDOW,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window = per_window
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, kind: str, address: str | None) -> int | None:
        """Whether to record this ``kind`` of event from ``address``: None when it is left out,
        else how many were left out before it since the last recorded one (0 for none)."""
        key = (kind, address or "-")
        now = self.clock()
        with self._lock:
            found = self._windows.get(key)
            if found is None or now - found.began >= self.window:
                owed = (found.owed + found.suppressed) if found is not None else 0
                found = _Window(began=now, owed=owed)
                self._windows[key] = found
                self._windows.move_to_end(key)
                while len(self._windows) > self.max_keys:
                    self._windows.popitem(last=False)
            if found.recorded >= self.per_window:
                found.suppressed += 1
                return None
            found.recorded += 1
            owed, found.owed = found.owed, 0
            return owed


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = EventThrottle()


def throttle() -> EventThrottle:
    """The current app's throttle (one per app: each worker process has its own)."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:  # an app made without init_app (a bare test app)
        found = current_app.extensions.setdefault(EXTENSION, EventThrottle())
    return found  # type: ignore[no-any-return]
