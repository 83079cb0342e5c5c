"""A provider's webhook receiver on loopback, as a provider would write one: it verifies every message's Standard
Webhooks signature with its secret (standardwebhooks, the receiver's side), keeps what it got, and answers as the
test tells it (an HTTP status, slowly, or not at all while stopped)."""

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: str
    verified: bool
    answered: int | None  # None while it holds its answer back

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """POSTs to http://127.0.0.1:<port>/hook. `answers` are the statuses of the next requests (then 200); `delay`
    holds each answer back that many seconds; `secrets` are what it verifies with (any one may match)."""

    port: int = field(default_factory=free_port)
    secrets: list[str] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def verify(self, body: str, headers: dict) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return True
        return False

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                got = Received(
                    webhook_id=headers.get("webhook-id", ""),
                    timestamp=headers.get("webhook-timestamp", ""),
                    signature=headers.get("webhook-signature", ""),
                    body=body,
                    verified=receiver.verify(body, headers),
                    answered=None,
                )
                receiver.received.append(got)  # seen on arrival, answered below
                if receiver.delay:
                    time.sleep(receiver.delay)  # a slow receiver, not a wait for the test's timing
                status = receiver.answers.pop(0) if receiver.answers else 200
                got.answered = status
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def taken(self) -> list[Received]:
        """What it answered 2xx to."""
        return [r for r in self.received if r.answered is not None and 200 <= r.answered < 300]
