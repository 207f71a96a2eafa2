"""An HTTP server on a free local port, in a thread, answering as the test's handler does: a
receiver that code under test calls (a webhook, an SMS gateway), or pages a browser loads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serving(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` (a request handler class, or a factory of its instances) answering on
    127.0.0.1: the server's address (``http://127.0.0.1:<port>``). The server is shut down on
    the way out."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
