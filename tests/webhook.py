"""A real HTTP receiver on 127.0.0.1 for notification tests: records each POST, answers as scripted."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class WebhookReceiver:
    """``answers``: the status codes for the first requests (then 200); ``hang``: never answer."""

    def __init__(self, answers: list[int] | None = None, hang: bool = False) -> None:
        self.answers = list(answers or [])
        self.hang = hang
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.attempts += 1
                    status = receiver.answers.pop(0) if receiver.answers else 200
                if receiver.hang:
                    receiver._release.wait(30)
                    return
                if status == 200:
                    with receiver.lock:
                        receiver.received.append(json.loads(body))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-part"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[str]:
        with self.lock:
            return [body["event"] for body in self.received]
