"""Element-manager simulator: one HTTP server that answers the Adtran, Nokia and Calix API shapes.

It keeps ONT and service state like a real element manager and injects faults on request:
timeouts, 5xx, rejection of an unknown serial, "applied but reads back differently", slow answers.
Control endpoints (under /_sim/): register ONTs, set and clear faults, set the devices' clock, dump the state.
Loopback only: it binds 127.0.0.1.
"""

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FAULT_KINDS = ("timeout", "error_5xx", "unknown_serial", "mismatch", "slow", "reject")
SERIAL_FORMAT = re.compile(r"[A-Z]{4}[0-9A-F]{8}")


@dataclass
class Fault:
    kind: str
    serial: str | None = None  # None: every serial
    times: int | None = None  # None: until cleared
    delay: float = 0.0


@dataclass
class SimState:
    onts: dict[str, dict] = field(default_factory=dict)  # serial -> {"online": bool, "services": {id: service}}
    faults: list[Fault] = field(default_factory=list)
    calls: int = 0
    auto_discover: bool = False  # every well-formed serial is known, as if plugged in
    lock: threading.Lock = field(default_factory=threading.Lock)
    state_file: Path | None = None  # where the ONTs and their services are kept across restarts
    clock: datetime | None = None  # the device clock when set (POST /_sim/clock); else the host's

    def now(self) -> str:
        return (self.clock or datetime.now(UTC)).isoformat()

    def load(self) -> None:
        """What the devices carried when the simulator last stopped (nothing when the file does not exist)."""
        if not (self.state_file and self.state_file.exists()):
            return
        try:
            onts = json.loads(self.state_file.read_text())["onts"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{self.state_file} is not a simulator state file ({exc}); delete it to start with empty devices"
            ) from exc
        self.onts.update(onts)

    def save(self) -> None:
        """Keep what the devices carry, as a real element manager does across a restart (caller holds the lock)."""
        if self.state_file is None:
            return
        partial = self.state_file.with_name(f"{self.state_file.name}.tmp")  # replaced at once: never half-written
        partial.write_text(json.dumps({"onts": self.onts}))
        os.replace(partial, self.state_file)

    def take_fault(self, serial: str | None, *, writing: bool) -> Fault | None:
        """The first fault that applies to this request (a mismatch only to writes), counted down."""
        with self.lock:
            for fault in self.faults:
                if fault.kind == "mismatch" and not writing:
                    continue
                if fault.serial is None or fault.serial == serial:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    state: SimState  # set on the server's handler class

    def log_message(self, format, *args):  # quiet: the tests and make run read their own output
        return

    # --- plumbing -------------------------------------------------------------------------------
    def _json(self, status: int, body=None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self):
        self._dispatch("GET")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/_sim/"):
            return self._control(method, url.path)
        for vendor, routes in ROUTES.items():
            for route_method, pattern, action in routes:
                match = re.fullmatch(f"/{vendor}{pattern}", url.path)
                if match and route_method == method:
                    params = {**match.groupdict(), **query}
                    serial = params.get("serial") or params.get("ontId") or params.get("serialNumber")
                    if self._fault(serial, writing=method != "GET"):
                        return None
                    self.state.calls += 1
                    return action(self, params)
        return self._json(404, {"error": "no such resource"})

    def _fault(self, serial: str | None, *, writing: bool) -> bool:
        """Apply an injected fault; True when the fault has answered (or swallowed) the request."""
        fault = self.state.take_fault(serial, writing=writing)
        self._mismatch_next = False
        if fault is None:
            return False
        if fault.kind == "mismatch":  # the write is applied, but the device ends up with something else
            self._mismatch_next = True
            return False
        if fault.kind == "slow":
            time.sleep(fault.delay or 1)
            return False
        if fault.kind == "timeout":
            time.sleep(fault.delay or 30)  # the client has given up by now
            return True
        if fault.kind == "error_5xx":
            self._json(503, {"error": "element manager busy"})
        elif fault.kind == "unknown_serial":
            self._json(404, {"error": f"unknown ONT {serial}"})
        else:  # reject
            self._json(422, {"error": "invalid profile"})
        return True

    # --- the shared engine -----------------------------------------------------------------------
    def _ont(self, serial: str) -> dict | None:
        if self.state.auto_discover and serial not in self.state.onts and SERIAL_FORMAT.fullmatch(serial or ""):
            with self.state.lock:  # as if the ONT had just been plugged in on a PON port
                self.state.onts.setdefault(serial, {"online": True, "services": {}})
        return self.state.onts.get(serial)

    def _apply(self, serial: str, service_id: str, values: dict) -> bool:
        ont = self._ont(serial)
        if ont is None:
            return False
        if self._mismatch_next:
            values = {**values, "c_vlan": (values.get("c_vlan") or 0) + 1}
        with self.state.lock:
            previous = ont["services"].get(service_id)
            activated = previous["activated_at"] if previous and previous["enabled"] else self.state.now()
            ont["services"][service_id] = {**values, "enabled": True, "activated_at": activated}
            self.state.save()
        return True

    def _remove(self, serial: str, service_id: str) -> bool:
        ont = self._ont(serial)
        if ont is None:
            return False
        with self.state.lock:
            ont["services"].pop(service_id, None)
            self.state.save()
        return True

    # --- control ---------------------------------------------------------------------------------
    def _control(self, method: str, path: str) -> None:
        if path == "/_sim/onts" and method == "POST":
            body = self._body()
            with self.state.lock:
                for serial in body.get("serials", [body.get("serial")]):
                    if serial:
                        self.state.onts.setdefault(serial, {"online": True, "services": {}})
                self.state.save()
            return self._json(201, {"onts": sorted(self.state.onts)})
        if path == "/_sim/faults" and method == "POST":
            body = self._body()
            if body.get("kind") not in FAULT_KINDS:
                return self._json(400, {"error": f"kind is one of {FAULT_KINDS}"})
            with self.state.lock:
                self.state.faults.append(
                    Fault(body["kind"], body.get("serial"), body.get("times"), float(body.get("delay", 0)))
                )
            return self._json(201, {"faults": len(self.state.faults)})
        if path == "/_sim/faults" and method == "DELETE":
            with self.state.lock:
                self.state.faults.clear()
            return self._json(204)
        if path == "/_sim/clock" and method == "POST":  # set the devices' clock, as NTP would (a simulated month)
            try:
                clock = datetime.fromisoformat(self._body()["now"])
            except (KeyError, TypeError, ValueError):
                return self._json(400, {"error": "now is an ISO 8601 time with its offset"})
            if clock.tzinfo is None:
                return self._json(400, {"error": "now is an ISO 8601 time with its offset"})
            with self.state.lock:
                self.state.clock = clock
            return self._json(200, {"now": self.state.now()})
        if path == "/_sim/clock" and method == "DELETE":
            with self.state.lock:
                self.state.clock = None
            return self._json(204)
        if path == "/_sim/state" and method == "GET":
            return self._json(200, {"onts": self.state.onts, "calls": self.state.calls})
        if path == "/_sim/reset" and method == "POST":
            with self.state.lock:
                self.state.onts.clear()
                self.state.faults.clear()
                self.state.calls = 0
                self.state.clock = None
                self.state.save()
            return self._json(204)
        return self._json(404, {"error": "no such control"})


# --- vendor dialects ---------------------------------------------------------------------------


def _adtran_put(h: _Handler, p: dict) -> None:
    b = h._body()
    values = {
        "profile": b.get("profile"),
        "down": b.get("downstreamMbps"),
        "up": b.get("upstreamMbps"),
        "c_vlan": b.get("cVlan"),
        "s_vlan": b.get("sVlan"),
        "qos": b.get("qosClass"),
    }
    if not h._apply(p["serial"], p["service_id"], values):
        return h._json(404, {"message": f"ONT {p['serial']} not found"})
    return h._json(200, {"serviceId": p["service_id"], "adminState": "enabled"})


def _adtran_delete(h: _Handler, p: dict) -> None:
    return h._json(204) if h._remove(p["serial"], p["service_id"]) else h._json(404, {"message": "not found"})


def _adtran_get(h: _Handler, p: dict) -> None:
    ont = h._ont(p["serial"])
    if ont is None:
        return h._json(404, {"message": "not found"})
    return h._json(
        200,
        {
            "serialNumber": p["serial"],
            "operState": "up" if ont["online"] else "down",
            "services": [
                {
                    "serviceId": sid,
                    "adminState": "enabled" if s["enabled"] else "disabled",
                    "profile": s["profile"],
                    "downstreamMbps": s["down"],
                    "upstreamMbps": s["up"],
                    "cVlan": s["c_vlan"],
                    "sVlan": s["s_vlan"],
                    "activatedAt": s["activated_at"],
                }
                for sid, s in ont["services"].items()
            ],
        },
    )


def _nokia_put(h: _Handler, p: dict) -> None:
    s = h._body().get("service", {})
    kbps = s.get("bandwidth", {})
    values = {
        "profile": s.get("profile"),
        "down": None if kbps.get("downstream-kbps") is None else kbps["downstream-kbps"] // 1000,
        "up": None if kbps.get("upstream-kbps") is None else kbps["upstream-kbps"] // 1000,
        "c_vlan": s.get("vlan", {}).get("c-tag"),
        "s_vlan": s.get("vlan", {}).get("s-tag"),
        "qos": s.get("qos-class"),
    }
    if not h._apply(p["serial"], p["service_id"], values):
        return h._json(404, {"ietf-restconf:errors": {"error": [{"error-tag": "invalid-value"}]}})
    return h._json(204)


def _nokia_delete(h: _Handler, p: dict) -> None:
    return h._json(204) if h._remove(p["serial"], p["service_id"]) else h._json(404, {})


def _nokia_get(h: _Handler, p: dict) -> None:
    ont = h._ont(p["serial"])
    if ont is None:
        return h._json(404, {})
    return h._json(
        200,
        {
            "onu": {
                "serial-number": p["serial"],
                "oper-state": "up" if ont["online"] else "down",
                "service": [
                    {
                        "name": sid,
                        "admin-state": "unlocked" if s["enabled"] else "locked",
                        "profile": s["profile"],
                        "bandwidth": {
                            "downstream-kbps": None if s["down"] is None else s["down"] * 1000,
                            "upstream-kbps": None if s["up"] is None else s["up"] * 1000,
                        },
                        "vlan": {"c-tag": s["c_vlan"], "s-tag": s["s_vlan"]},
                        "activated-at": s["activated_at"],
                    }
                    for sid, s in ont["services"].items()
                ],
            }
        },
    )


def _calix_put(h: _Handler, p: dict) -> None:
    b = h._body()
    values = {
        "profile": b.get("bwProfile"),
        "down": b.get("downstreamMbps"),
        "up": b.get("upstreamMbps"),
        "c_vlan": b.get("cTag"),
        "s_vlan": b.get("sTag"),
        "qos": None,
    }
    if not h._apply(b.get("ontId", ""), b.get("serviceId", ""), values):
        return h._json(404, {"errorMessage": "ONT not found"})
    return h._json(200, {"serviceId": b.get("serviceId"), "adminState": "ENABLED"})


def _calix_delete(h: _Handler, p: dict) -> None:
    removed = h._remove(p.get("ontId", ""), p.get("serviceId", ""))
    return h._json(204) if removed else h._json(404, {"errorMessage": "not found"})


def _calix_get(h: _Handler, p: dict) -> None:
    serial = p.get("serialNumber", "")
    ont = h._ont(serial)
    if ont is None:
        return h._json(404, {"errorMessage": "not found"})
    return h._json(
        200,
        {
            "serialNumber": serial,
            "status": "ONLINE" if ont["online"] else "OFFLINE",
            "dataServices": [
                {
                    "serviceId": sid,
                    "adminState": "ENABLED" if s["enabled"] else "DISABLED",
                    "bwProfile": s["profile"],
                    "downstreamMbps": s["down"],
                    "upstreamMbps": s["up"],
                    "cTag": s["c_vlan"],
                    "sTag": s["s_vlan"],
                    "activatedAt": s["activated_at"],
                }
                for sid, s in ont["services"].items()
            ],
        },
    )


SERIAL, SERVICE = r"(?P<serial>[A-Za-z0-9]+)", r"(?P<service_id>[A-Za-z0-9_.-]+)"
ROUTES = {
    "adtran": [
        ("PUT", f"/api/v1/onts/{SERIAL}/services/{SERVICE}", _adtran_put),
        ("DELETE", f"/api/v1/onts/{SERIAL}/services/{SERVICE}", _adtran_delete),
        ("GET", f"/api/v1/onts/{SERIAL}", _adtran_get),
    ],
    "nokia": [
        ("PUT", f"/restconf/data/bbf-fiber-onu:onus/onu={SERIAL}/service={SERVICE}", _nokia_put),
        ("DELETE", f"/restconf/data/bbf-fiber-onu:onus/onu={SERIAL}/service={SERVICE}", _nokia_delete),
        ("GET", f"/restconf/data/bbf-fiber-onu:onus/onu={SERIAL}", _nokia_get),
    ],
    "calix": [
        ("PUT", "/rest/v1/ems/service/data", _calix_put),
        ("DELETE", "/rest/v1/ems/service/data", _calix_delete),
        ("GET", "/rest/v1/ems/ont", _calix_get),
    ],
}


class Simulator:
    """The simulator server; `start()` serves in a background thread, `serve_forever()` in this one."""

    def __init__(self, port: int = 0, *, auto_discover: bool = False, state_file: str | Path | None = None):
        self.state = SimState(auto_discover=auto_discover, state_file=Path(state_file) if state_file else None)
        self.state.load()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Simulator":
        self._thread = threading.Thread(target=self.server.serve_forever, name="olt-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
