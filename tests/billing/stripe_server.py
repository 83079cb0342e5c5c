"""A Stripe-compatible API server on loopback for the tests: `localstripe`, with two of Stripe's behaviours it
lacks added in front of it, so the Stripe path runs through the real SDK over HTTP:

- Idempotency keys: a POST repeated with the same `Idempotency-Key` gets the first answer (errors included) and
  does nothing again; a repeat that arrives while the first is still running waits for it.
- A fault switch: `POST /_config/faults {"slow": N, "seconds": S, "path": "/v1/payment_intents"}` makes the next N
  matching requests do their work and then answer S seconds late (the client times out mid-charge).

Run: python -m tests.billing.stripe_server --port 8420
"""

import argparse
import asyncio

from aiohttp import web
from localstripe import resources
from localstripe.server import app

# The tests start a fresh server each session: nothing is kept on disk.
resources.Store.dump_to_disk = lambda self: None

_answers: dict[str, tuple[int, bytes]] = {}
_locks: dict[str, asyncio.Lock] = {}
_faults = {"slow": 0, "seconds": 0.0, "path": ""}


async def _late(request, response):
    if _faults["slow"] > 0 and request.path.startswith(_faults["path"]):
        _faults["slow"] -= 1
        await asyncio.sleep(_faults["seconds"])
    return response


@web.middleware
async def idempotency(request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await _late(request, await handler(request))
    scoped = f"{request.headers.get('Authorization', '')}:{key}"
    async with _locks.setdefault(scoped, asyncio.Lock()):
        if scoped in _answers:
            status, body = _answers[scoped]
            return web.Response(
                status=status, body=body, content_type="application/json", headers={"Idempotent-Replayed": "true"}
            )
        response = await handler(request)
        if response.status < 500:
            _answers[scoped] = (response.status, response.body)
    return await _late(request, response)


async def faults(request):
    data = await request.json()
    _faults.update(slow=int(data.get("slow", 0)), seconds=float(data.get("seconds", 0)), path=data.get("path", "/v1/"))
    return web.json_response(_faults)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args()
    app.middlewares.insert(0, idempotency)
    app.router.add_post("/_config/faults", faults)
    web.run_app(app, host="127.0.0.1", port=args.port, print=lambda *a: print(*a, flush=True), access_log=None)


if __name__ == "__main__":
    main()
