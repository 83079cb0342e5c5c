"""HTTP plumbing shared by the vendor adapters: timeouts and the mapping of failures to adapter errors."""

import requests

from provisioning.adapters.base import PermanentError, TransientError


class HttpClient:
    """A `requests` session against one element manager, with a timeout and error classification."""

    def __init__(self, base_url: str, *, timeout: float, headers: dict | None = None, auth=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.session.auth = auth

    def call(self, method: str, path: str, *, not_found_is_none: bool = False, **kwargs):
        """Send one request; returns the decoded JSON body (or None)."""
        try:
            response = self.session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"{method} {path}: {exc.__class__.__name__}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code == 404 and not_found_is_none:
            return None
        if response.status_code >= 400:
            raise PermanentError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TransientError(f"{method} {path}: the answer is not JSON") from exc
