"""A provider's webhook receiver for trying the webhooks out: it verifies each message's Standard Webhooks signature
with the endpoint's secret, prints what it got, and answers 204 (or 400 to a message whose signature does not
verify, which COS then tries again)."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand, CommandError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Command(BaseCommand):
    help = "Receive webhooks on 127.0.0.1:<port>/ and verify their signatures (a provider's receiver, for trying out)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8102)
        parser.add_argument("--secret", required=True, help="The endpoint's signing secret (whsec_...).")

    def handle(self, *args, port: int, secret: str, **options):
        try:
            verifier = Webhook(secret)
        except Exception as exc:  # noqa: BLE001 - any unreadable secret
            raise CommandError(f"not a signing secret: {exc}") from exc
        out = self.stdout

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    message = verifier.verify(body, dict(self.headers.items()))
                except WebhookVerificationError as refused:
                    out.write(f"REFUSED {self.headers.get('webhook-id', '?')}: {refused}")
                    self.send_response(400)
                else:
                    out.write(
                        f"{self.headers['webhook-id']} {message.get('type') or message.get('eventType')} verified: "
                        + json.dumps(message.get("data") or message.get("event"), ensure_ascii=False)
                    )
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        out.write(f"Receiving webhooks on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
