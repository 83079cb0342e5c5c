"""The SMS port: one function that sends a text, and the backends behind it, chosen by SMS_URL.

- `console://` prints each SMS (the default, for `make run`);
- `file:///path/sms.jsonl` appends one JSON line per SMS;
- `locmem://` keeps them in `outbox` (tests);
- `46elks://API_USER:API_PASSWORD@api.46elks.com` sends through 46elks' HTTP API (POST /a1/sms, form fields
  from/to/message, basic auth); `46elks+http://...@127.0.0.1:8025` speaks plain HTTP to a local fake.

A backend raises `SmsError` when the SMS was not taken: the caller records the failure and tries again later.
Numbers are given in E.164 (`phone_e164` turns what a customer typed into that, or None).
"""

import json
import re
import sys
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import requests
from django.conf import settings

outbox: list["Sms"] = []  # what the locmem backend sent

# Calling codes of the countries whose national numbers (a leading 0) are understood.
CALLING_CODES = {"SE": "46", "NO": "47", "DK": "45", "FI": "358", "DE": "49", "GB": "44"}


class SmsError(Exception):
    """The SMS was not taken by the provider (unreachable, refused, an error answer)."""


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    sender: str
    provider_id: str = ""


def phone_e164(raw: str, *, country: str = "") -> str | None:
    """`raw` as an E.164 number (+46701234567), or None when it is not a phone number. A national number (a leading
    0) is read as one of `country` (default SMS_DEFAULT_COUNTRY)."""
    number = re.sub(r"[\s\-().]", "", raw or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    elif number.startswith("0") and not number.startswith("+"):
        code = CALLING_CODES.get((country or settings.SMS_DEFAULT_COUNTRY).upper())
        if code is None:
            return None
        number = f"+{code}{number[1:]}"
    if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return None
    return number


def sms_send(*, to: str, body: str) -> str:
    """Send one SMS through the backend SMS_URL names; returns the provider's id of it. Raises SmsError."""
    return backend_for(settings.SMS_URL).send(Sms(to=to, body=body, sender=settings.SMS_FROM))


BACKENDS = ("console", "file", "locmem", "46elks", "46elks+http", "46elks+https")


def backend_for(url: str):
    # "46elks://..." is not a URL scheme urllib knows (a scheme starts with a letter): split it off first.
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    parts = urlsplit(f"//{rest}")
    if scheme == "console":
        return ConsoleBackend()
    if scheme == "locmem":
        return LocmemBackend()
    if scheme == "file":
        return FileBackend(unquote(parts.path))
    if scheme in ("46elks", "46elks+http", "46elks+https"):
        transport = "http" if scheme == "46elks+http" else "https"
        host = parts.hostname or "api.46elks.com"
        port = f":{parts.port}" if parts.port else ""
        return ElksBackend(
            endpoint=f"{transport}://{host}{port}/a1/sms",
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )
    raise ValueError(f"SMS_URL: unknown backend {scheme or url!r} ({', '.join(BACKENDS)})")


class ConsoleBackend:
    def send(self, sms: Sms) -> str:
        sys.stdout.write(f"SMS from {sms.sender} to {sms.to}:\n{sms.body}\n{'-' * 40}\n")
        sys.stdout.flush()
        return f"console-{uuid.uuid4().hex[:12]}"


class LocmemBackend:
    def send(self, sms: Sms) -> str:
        provider_id = f"locmem-{len(outbox) + 1}"
        outbox.append(Sms(to=sms.to, body=sms.body, sender=sms.sender, provider_id=provider_id))
        return provider_id


class FileBackend:
    def __init__(self, path: str) -> None:
        self.path = path

    def send(self, sms: Sms) -> str:
        provider_id = f"file-{uuid.uuid4().hex[:12]}"
        try:
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(json.dumps({"id": provider_id, "from": sms.sender, "to": sms.to, "message": sms.body}))
                file.write("\n")
        except OSError as exc:
            raise SmsError(f"cannot write {self.path}: {exc}") from exc
        return provider_id


class ElksBackend:
    """46elks: POST /a1/sms with from, to, message; the answer is the SMS as JSON with its id."""

    def __init__(self, *, endpoint: str, user: str, password: str) -> None:
        self.endpoint, self.auth = endpoint, (user, password)

    def send(self, sms: Sms) -> str:
        try:
            response = requests.post(
                self.endpoint,
                data={"from": sms.sender, "to": sms.to, "message": sms.body},
                auth=self.auth,
                timeout=settings.SMS_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise SmsError(f"46elks unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise SmsError(f"46elks answered {response.status_code}: {response.text[:300]}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise SmsError(f"46elks answered something that is not JSON: {response.text[:300]}") from exc
        if answer.get("status") == "failed":
            raise SmsError(f"46elks refused the SMS: {answer}")
        return str(answer.get("id", ""))
