"""Schemathesis hooks for scripts/fuzz-api.sh (loaded through SCHEMATHESIS_HOOKS).

Environment:
    ROLLCALL_FUZZ_STATE   the fuzz device's state file (written by `rollcall_fuzz.py enrol`)
    ROLLCALL_FUZZ_SIGN    1: sign every agent request (POST /api/v1/reports, POST /api/v1/usb-events, GET /api/v1/policy)
                          with the fuzz device's key; 0: send them unsigned
    ROLLCALL_FUZZ_BEARER  a dashboard API token (`rollcall users token`) sent as `Authorization: Bearer` on the read
                          operations (GET /api/v1/devices, GET /api/v1/devices/{id}, GET /report); unset: sent without
    ROLLCALL_FUZZ_STATS   where to write, at exit, the count of responses per operation and status
    ROLLCALL_FUZZ_REQUEST_LOG  where to append every request sent, with its case id, exact body bytes (base64) and
                          the start of the response (JSON lines), to reproduce a failure byte for byte

Signing is a `requests` auth (set on the case by a schemathesis auth provider): it runs on the prepared request,
after schemathesis has serialized the body, so the signature covers exactly the bytes that go on the wire (a hook on
the `Case` would sign a body that is encoded afterwards). A negative case whose point is a wrong or missing
Rollcall-* header goes out unsigned, with the headers schemathesis made up. The ignored_auth check sends signed
requests again without the signature and with one made-up header each, so the signed run tests refusals too.

The read operations are for a signed-in dashboard role (security scheme DashboardBearer): a second auth provider
puts the fuzz technician's token in `Authorization`, except on a negative case whose point is that header. The
ignored_auth check sends them again without it and with a made-up token, which must be refused (401, or for the HTML
report a redirect to the sign-in page).

Cases are otherwise left as generated, except where, in `before_call`, a generated value that is already valid for
its field is swapped for the one valid value the server will accept, so that generated data gets past the checks
that need server state:

* a report's `agent.machineID` (32 hex digits) becomes the fuzz device's machine id, so reports are stored
  rather than refused as `wrong_device`, and its `reportID` (a UUID) one derived from the report's content, so
  distinct reports are stored rather than answered as duplicates of the few ids generation repeats; the same for a
  USB event's `machineID` and `eventID`;
* every second positive `GET /api/v1/devices/{id}` asks for the fuzz device, so the 200 schema is checked;
* every third enrolment whose token is 1-256 characters spends a real token (`spareToken`) until it is used up,
  so the 201 schema and the validation of the other fields behind a valid token are exercised.
"""

from __future__ import annotations

import atexit
import base64
import collections
import itertools
import json
import os
import re
import sys
import threading
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import requests  # noqa: E402
import schemathesis  # noqa: E402
from schemathesis.core.parameters import ParameterLocation  # noqa: E402
from rollcall_fuzz import FuzzDevice  # noqa: E402

STATE = os.environ.get("ROLLCALL_FUZZ_STATE")
SIGN = os.environ.get("ROLLCALL_FUZZ_SIGN", "1") == "1"
BEARER = os.environ.get("ROLLCALL_FUZZ_BEARER") or None
STATS = os.environ.get("ROLLCALL_FUZZ_STATS")
REQUEST_LOG = os.environ.get("ROLLCALL_FUZZ_REQUEST_LOG")

DEVICE = FuzzDevice.load(STATE) if STATE else None
MACHINE_ID = re.compile(r"^[0-9a-f]{32}$")
UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
REPORT_NAMESPACE = uuid.UUID("5b1f4a52-3c39-4d5e-9a7e-6f1c2a0b8d11")
REPORTS = "POST /api/v1/reports"
USB_EVENTS = "POST /api/v1/usb-events"
AGENT_PATHS = ["/api/v1/reports", "/api/v1/usb-events", "/api/v1/policy"]
READ_PATHS = ["/api/v1/devices", "/api/v1/devices/{id}", "/report"]


class RollcallSignatureAuth(requests.auth.AuthBase):
    """Adds the four Rollcall-* signature headers over the final request bytes."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        assert DEVICE is not None
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            # http.client would send a str body as ISO-8859-1; send (and sign) its UTF-8 bytes instead.
            body = body.encode("utf-8")
            request.body = body
        elif not isinstance(body, bytes):
            raise TypeError(f"cannot sign a streamed request body ({type(body).__name__})")
        request.headers.update(DEVICE.sign(request.method or "GET", request.path_url, body))
        return request


def _negates_headers(case) -> bool:  # type: ignore[no-untyped-def]
    """Whether the case's point is a wrong or missing header: signing it would overwrite exactly that."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    if meta.is_negative_at(ParameterLocation.HEADER):
        return True
    data = getattr(meta.phase, "data", None)
    if getattr(data, "parameter_location", None) == ParameterLocation.HEADER:
        return True
    return any(getattr(m, "parameter_location", None) == ParameterLocation.HEADER for m in getattr(data, "mutations", ()) or ())


if DEVICE is not None and SIGN:

    @schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path=AGENT_PATHS)
    class RollcallSignature:
        """Signs every agent request, except those whose generated Rollcall-* headers are the thing under test."""

        signer = RollcallSignatureAuth()

        def get(self, case, context):  # type: ignore[no-untyped-def]
            return self.signer

        def set(self, case, data, context):  # type: ignore[no-untyped-def]
            if not _negates_headers(case):
                # What schemathesis' own `auth.set_from_requests` does: a requests auth, run on the prepared request.
                case._auth = data


if BEARER is not None:

    @schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path=READ_PATHS)
    class DashboardBearer:
        """Sends the fuzz technician's API token on the read operations."""

        def get(self, case, context):  # type: ignore[no-untyped-def]
            return BEARER

        def set(self, case, data, context):  # type: ignore[no-untyped-def]
            if not _negates_headers(case):
                headers = {name: value for name, value in (case.headers or {}).items() if name.lower() != "authorization"}
                case.headers = {**headers, "Authorization": f"Bearer {data}"}


# --- cases -----------------------------------------------------------------------------------------------------

_device_counter = itertools.count()
_enrol_counter = itertools.count()


def _label(case) -> str:  # type: ignore[no-untyped-def]
    return f"{case.operation.method.upper()} {case.operation.path}"


def _is_positive(case) -> bool:  # type: ignore[no-untyped-def]
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context, case, kwargs):  # type: ignore[no-untyped-def]
    # Here rather than in `map_case`: this runs for every phase (`map_case` does not for the examples phase), and
    # schemathesis re-checks the case's positive/negative verdict after it.
    if DEVICE is None:
        return
    label = _label(case)
    body = case.body
    if label == REPORTS and SIGN and isinstance(body, dict):
        agent = body.get("agent")
        machine_id = agent.get("machineID") if isinstance(agent, dict) else None
        if isinstance(machine_id, str) and MACHINE_ID.match(machine_id):
            body = {**body, "agent": {**agent, "machineID": DEVICE.machine_id}}
        # Generation repeats a few report ids, which would make most reports duplicates (decoded, never stored).
        # An id derived from the content stores each distinct report once and keeps true repeats duplicates.
        report_id = body.get("reportID")
        if isinstance(report_id, str) and UUID.match(report_id):
            content = json.dumps(body, sort_keys=True, default=str)
            body = {**body, "reportID": str(uuid.uuid5(REPORT_NAMESPACE, content)).upper()}
        case.body = body
    elif label == USB_EVENTS and SIGN and isinstance(body, dict):
        machine_id = body.get("machineID")
        if isinstance(machine_id, str) and MACHINE_ID.match(machine_id):
            body = {**body, "machineID": DEVICE.machine_id}
        event_id = body.get("eventID")
        if isinstance(event_id, str) and UUID.match(event_id):
            content = json.dumps(body, sort_keys=True, default=str)
            body = {**body, "eventID": str(uuid.uuid5(REPORT_NAMESPACE, content)).upper()}
        case.body = body
    elif label == "GET /api/v1/devices/{id}":
        if _is_positive(case) and isinstance(case.path_parameters, dict) and next(_device_counter) % 2 == 0:
            case.path_parameters = {**case.path_parameters, "id": DEVICE.device_id}
    elif label == "POST /api/v1/enrol" and DEVICE.spare_token:
        token = body.get("token") if isinstance(body, dict) else None
        if isinstance(token, str) and 1 <= len(token) <= 256 and next(_enrol_counter) % 3 == 0:
            case.body = {**body, "token": DEVICE.spare_token}


# --- responses -------------------------------------------------------------------------------------------------


@schemathesis.deserializer("text/plain", "text/html", "text/csv")
def deserialize_text(ctx, response):  # type: ignore[no-untyped-def]
    return response.content.decode("utf-8")


_lock = threading.Lock()
_stats: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


@schemathesis.hook
def after_call(context, case, response):  # type: ignore[no-untyped-def]
    with _lock:
        _stats[_label(case)][str(response.status_code)] += 1
    if not REQUEST_LOG:
        return
    request = response.request
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    record = {
        "case": case.id,
        "phase": case.meta.phase.name.value if case.meta is not None else None,
        "mode": case.meta.generation.mode.value if case.meta is not None else None,
        "status": response.status_code,
        "method": request.method,
        "url": request.url,
        "headers": dict(request.headers),
        "body": base64.b64encode(body).decode("ascii"),
        "response": response.content[:2000].decode("utf-8", "replace"),
    }
    with _lock, open(REQUEST_LOG, "a") as file:
        file.write(json.dumps(record) + "\n")


@atexit.register
def _write_stats() -> None:
    if not STATS:
        return
    with _lock:
        data = {label: dict(counter) for label, counter in _stats.items()}
    with open(STATS, "w") as file:
        json.dump(data, file, indent=1, sort_keys=True)
