"""A request announcing a body larger than any endpoint takes is answered 413 by the HTTP server
``shebao run`` starts (waitress with ``web.serving``'s options) as soon as its headers are read:
before, waitress waited for the announced bytes (a client announcing 50 MB and sending ten bytes held a
channel until it gave up) and only then let the app refuse it. Bodies the app may take still
reach the app: the import's 1 MiB limit, and the app's own JSON 413 for a smaller endpoint."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from waitress.server import create_server

from web.serving import largest_body, waitress_options

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def served(app: Flask) -> Iterator[int]:
    """``app`` under waitress as ``shebao run`` serves it, on a free port."""
    server = create_server(app, host="127.0.0.1", port=0, **waitress_options(app))
    port = int(server.effective_port)  # type: ignore[union-attr]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield port
    server.close()
    thread.join(timeout=5)


def answer(port: int, path: str, length: int, body: bytes) -> tuple[str, bytes, float]:
    """Send a POST announcing ``length`` bytes and sending ``body`` (the connection stays open);
    the status line, the answer and how long it took to come."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        )
        conn.sendall(head.encode() + body)
        received = b""
        while not _whole(received):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n", 1)[0].decode(), received, time.monotonic() - began


def _whole(received: bytes) -> bool:
    """Whether ``received`` holds an answer's headers and the body they announce."""
    head, found, body = received.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def test_a_body_announced_larger_than_any_endpoint_takes_is_413_at_once(served: int) -> None:
    status, _, took = answer(served, "/api/v1/cards", 50 * 1024**2, b'{"a": 1}')
    assert status.split()[1] == "413", status
    assert took < 5  # the server's channel timeout is 120 s: it did not wait for the body


def test_bodies_an_endpoint_may_take_still_reach_the_app(app: Flask, served: int) -> None:
    assert largest_body(app) == 1024 * 1024  # the people import's own limit
    body = json.dumps({"rows": ["x" * 200_000]}).encode()  # over 64 KiB, under the import's
    status, received, _ = answer(served, "/api/v1/imports/people", len(body), body)
    assert status.split()[1] == "401", status  # the app answered: no token
    assert b'"code"' in received
    big = b'{"outlet": "' + b"x" * 100_000 + b'"}'
    status, received, _ = answer(served, "/api/v1/cards", len(big), big)
    assert status.split()[1] in ("401", "413"), status  # the app's answer, in JSON
    assert b'"code"' in received
