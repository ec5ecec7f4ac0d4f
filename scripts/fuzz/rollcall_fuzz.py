"""Helpers for scripts/fuzz-api.sh: Rollcall request signing, the fuzz device's enrolment, a preflight, and signed
curl reproductions.

    python rollcall_fuzz.py pin       --url URL --fingerprint AB:CD:... --out controller.pem
    python rollcall_fuzz.py enrol     --url URL --token TOKEN --state FILE
    python rollcall_fuzz.py preflight --url URL --state FILE     (ROLLCALL_FUZZ_BEARER: a technician's API token)
    python rollcall_fuzz.py curl      --url URL --state FILE [--path /api/v1/reports] BODY_FILE
    python rollcall_fuzz.py summary   --ndjson EVENTS --requests LOG [--failures FILE]

The signing scheme is the one in controller/openapi.yaml (security scheme RollcallSignature) and
Sources/RollcallProtocol/Enrolment.swift (RequestSignature):

    "rollcall-request-v1\\n" + METHOD + "\\n" + PATH_WITH_QUERY + "\\n" + deviceID + "\\n" + timestamp + "\\n"
      + nonce + "\\n" + lowercase_hex(SHA-256(body))
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import os
import secrets
import shlex
import socket
import ssl
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "..", "controller", "openapi.yaml")

DEVICE_HEADER = "Rollcall-Device"
TIMESTAMP_HEADER = "Rollcall-Timestamp"
NONCE_HEADER = "Rollcall-Nonce"
SIGNATURE_HEADER = "Rollcall-Signature"


# --- signing ---------------------------------------------------------------------------------------------------


def canonical(method: str, path_with_query: str, device_id: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"rollcall-request-v1\n{method.upper()}\n{path_with_query}\n{device_id}\n{timestamp}\n{nonce}\n{digest}".encode()


def signature_headers(
    key: Ed25519PrivateKey,
    device_id: str,
    method: str,
    path_with_query: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = secrets.token_hex(16) if nonce is None else nonce
    signature = key.sign(canonical(method, path_with_query, device_id, timestamp, nonce, body))
    return {
        DEVICE_HEADER: device_id,
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
    }


def raw_public_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def raw_private_key(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


class FuzzDevice:
    """The enrolled fuzz device as the state file keeps it."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.device_id: str = state["deviceID"]
        self.machine_id: str = state["machineID"]
        self.key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(state["privateKey"]))
        self.spare_token: str | None = state.get("spareToken")

    @classmethod
    def load(cls, path: str) -> FuzzDevice:
        with open(path) as file:
            return cls(json.load(file))

    def sign(self, method: str, path_with_query: str, body: bytes, **kwargs: Any) -> dict[str, str]:
        return signature_headers(self.key, self.device_id, method, path_with_query, body, **kwargs)


# --- HTTP ------------------------------------------------------------------------------------------------------


class Session:
    """requests, verifying the controller against the certificate `pin` saved (ROLLCALL_FUZZ_CA)."""

    def __init__(self) -> None:
        import requests

        self.session = requests.Session()
        # Explicit per request: REQUESTS_CA_BUNDLE in the environment would otherwise win over Session.verify.
        self.verify: str | bool = os.environ.get("ROLLCALL_FUZZ_CA") or True

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.session.get(url, verify=self.verify, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.session.post(url, verify=self.verify, **kwargs)


def session() -> Session:
    return Session()


def server_certificate(url: str) -> bytes:
    parts = urlsplit(url)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((parts.hostname, parts.port or 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def fingerprint(der: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def example_report(machine_id: str) -> dict[str, Any]:
    import yaml

    with open(SPEC) as file:
        spec = yaml.safe_load(file)
    report = copy.deepcopy(spec["components"]["examples"]["InventoryReport"]["value"])
    report["reportID"] = str(uuid.uuid4()).upper()
    report["collectedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report["agent"]["machineID"] = machine_id
    return report


# --- commands --------------------------------------------------------------------------------------------------


def command_pin(args: argparse.Namespace) -> int:
    """Saves the server's certificate as the CA to verify it with, if it is the one `rollcall serve` announced."""
    der = server_certificate(args.url)
    seen = fingerprint(der)
    if seen != args.fingerprint.upper():
        print(f"pin: the server at {args.url} presents {seen}, not the announced {args.fingerprint}", file=sys.stderr)
        return 1
    with open(args.out, "w") as file:
        file.write(ssl.DER_cert_to_PEM_cert(der))
    return 0


def command_enrol(args: argparse.Namespace) -> int:
    key = Ed25519PrivateKey.generate()
    machine_id = secrets.token_hex(16)
    request = {
        "token": args.token,
        "publicKey": base64.b64encode(raw_public_key(key)).decode("ascii"),
        "machineID": machine_id,
        "hostname": "fuzz-device",
        "agentVersion": "fuzz",
    }
    response = session().post(args.url + "/api/v1/enrol", json=request, timeout=10)
    if response.status_code != 201:
        print(f"enrol: POST /api/v1/enrol answered {response.status_code}: {response.text}", file=sys.stderr)
        return 1
    answer = response.json()
    state = {
        "deviceID": answer["deviceID"],
        "machineID": machine_id,
        "privateKey": base64.b64encode(raw_private_key(key)).decode("ascii"),
        "publicKey": request["publicKey"],
        "spareToken": args.spare_token,
    }
    with open(args.state, "w") as file:
        json.dump(state, file)
    os.chmod(args.state, 0o600)
    print(f"fuzz device {answer['deviceID']} (machine {machine_id}) enrolled at {answer['enrolledAt']}")
    return 0


def command_preflight(args: argparse.Namespace) -> int:
    """Checks the signing helper and the dashboard token against the server before fuzzing, so a signing or token
    mistake cannot turn the signed run into a run of 401s without anyone noticing.

    The token (`rollcall users token` of a technician) comes from ROLLCALL_FUZZ_BEARER, not the command line."""
    device = FuzzDevice.load(args.state)
    bearer = os.environ.get("ROLLCALL_FUZZ_BEARER")
    if not bearer:
        print("preflight: ROLLCALL_FUZZ_BEARER (a technician's API token) is not set", file=sys.stderr)
        return 1
    http = session()
    path = "/api/v1/reports"
    report = example_report(device.machine_id)
    body = json.dumps(report).encode()
    problems = []

    def post(headers: dict[str, str], data: bytes) -> Any:
        return http.post(args.url + path, data=data, headers={"Content-Type": "application/json", **headers}, timeout=10)

    def expect(label: str, response: Any, status: int, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        ok = response.status_code == status
        if code is not None and ok:
            try:
                ok = response.json()["error"]["code"] == code
            except Exception:  # noqa: BLE001
                ok = False
        wrong = [f"{name}: {response.headers.get(name)!r}" for name, value in (headers or {}).items() if response.headers.get(name) != value]
        ok = ok and not wrong
        print(f"  preflight {'ok  ' if ok else 'FAIL'} {label}: {response.status_code} {response.text[:160]}"
              + (f" (header {'; '.join(wrong)})" if wrong else ""))
        if not ok:
            problems.append(label)

    headers = device.sign("POST", path, body)
    expect("signed report is stored (201)", post(headers, body), 201)
    expect("same nonce again is refused (401 replayed_request)", post(headers, body), 401, "replayed_request")
    expect("same report, fresh signature is a duplicate (200)", post(device.sign("POST", path, body), body), 200)
    expect("unsigned report (401 unsigned_request)", post({}, body), 401, "unsigned_request")
    tampered = body + b" "  # still the same JSON, but not the bytes that were signed
    expect("body changed after signing (401 bad_signature)", post(device.sign("POST", path, body), tampered), 401, "bad_signature")
    skewed = device.sign("POST", path, body, timestamp=int(time.time()) - 3600)
    expect("timestamp an hour old (401 clock_skew)", post(skewed, body), 401, "clock_skew")
    other = example_report(secrets.token_hex(16))
    other_body = json.dumps(other).encode()
    expect("report for another machine (403 wrong_device)", post(device.sign("POST", path, other_body), other_body), 403, "wrong_device")
    detail = f"{args.url}/api/v1/devices/{device.device_id}"
    expect("device detail with the technician's token (200)",
           http.get(detail, headers={"Authorization": f"Bearer {bearer}"}, timeout=10), 200)
    challenge = {"WWW-Authenticate": 'Bearer realm="rollcall"'}
    expect("device detail without a token (401 sign_in_required)", http.get(detail, timeout=10), 401, "sign_in_required", challenge)
    expect("device detail with a made-up token (401 sign_in_required)",
           http.get(detail, headers={"Authorization": "Bearer rollcall-fuzz-not-a-token"}, timeout=10), 401, "sign_in_required", challenge)
    if problems:
        print(f"preflight: {len(problems)} check(s) failed", file=sys.stderr)
        return 1
    return 0


def command_curl(args: argparse.Namespace) -> int:
    device = FuzzDevice.load(args.state)
    with open(args.body, "rb") as file:
        body = file.read()
    headers = device.sign(args.method, args.path, body)
    parts = ["curl", "-sk", "-X", args.method, args.url + args.path, "-H", "Content-Type: application/json"]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    parts += ["--data-binary", "@" + args.body]
    print(" ".join(shlex.quote(part) for part in parts))
    return 0


def command_summary(args: argparse.Namespace) -> int:
    """Figures of one schemathesis run from its NDJSON events and the hooks' request log: requests per operation and
    status, test cases, and each failed check with the exact request (kept in --failures as JSON)."""
    requests_by_case: dict[str, list[dict[str, Any]]] = {}
    statuses: dict[str, dict[str, int]] = {}
    if args.requests and os.path.exists(args.requests):
        with open(args.requests) as file:
            for line in file:
                record = json.loads(line)
                requests_by_case.setdefault(record["case"], []).append(record)
    cases: set[str] = set()
    failures: list[dict[str, Any]] = []
    with open(args.ndjson) as file:
        for line in file:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            for case_id, interaction in recorder.get("interactions", {}).items():
                cases.add(case_id)
                case = recorder["cases"].get(case_id, {}).get("value", {})
                label = f"{case.get('method', '?')} {case.get('path', '?')}"
                if recorder["label"] != "Stateful tests" and label != recorder["label"]:
                    label = f"{case.get('path', '?')}, methods it does not have"
                status = str((interaction.get("response") or {}).get("status_code"))
                statuses.setdefault(label, {}).setdefault(status, 0)
                statuses[label][status] += 1
            for case_id, checks in recorder.get("checks", {}).items():
                for check in checks:
                    if check["status"] == "success":
                        continue
                    info = (check.get("failure_info") or {}).get("failure") or {}
                    case = recorder["cases"].get(case_id, {}).get("value", {})
                    interaction = recorder.get("interactions", {}).get(case_id, {})
                    failures.append({
                        "phase": finished["phase"],
                        "case": case_id,
                        "check": check["name"],
                        "code": info.get("code"),
                        "title": info.get("title"),
                        "message": info.get("message"),
                        "operation": info.get("operation") or recorder["label"],
                        "method": (interaction.get("request") or {}).get("method") or case.get("method"),
                        "url": (interaction.get("request") or {}).get("uri"),
                        "status": (interaction.get("response") or {}).get("status_code"),
                        "requests": requests_by_case.get(case_id, []),
                    })
    print(f"  {len(cases)} test cases sent, {len(failures)} failed checks")
    for label in sorted(statuses):
        line = ", ".join(f"{status}×{count}" for status, count in sorted(statuses[label].items()))
        print(f"    {label}: {line}")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for failure in failures:
        groups.setdefault((failure["code"] or "?", failure["check"], failure["operation"]), []).append(failure)
    for (code, check, operation), members in groups.items():
        sent = sorted({f"{member['method']} -> {member['status']}" for member in members})
        cases = ", ".join(member["case"] for member in members[:3]) + (", ..." if len(members) > 3 else "")
        print(f"    FAILED {code} {check}, {operation}: {len(members)} case(s) ({'; '.join(sent)}); cases {cases}")
    if args.failures:
        with open(args.failures, "w") as file:
            json.dump(failures, file, indent=1)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    enrol = commands.add_parser("enrol")
    enrol.add_argument("--url", required=True)
    enrol.add_argument("--token", required=True)
    enrol.add_argument("--spare-token", help="a second token the hooks may spend on successful enrolments")
    enrol.add_argument("--state", required=True)
    enrol.set_defaults(run=command_enrol)
    pin = commands.add_parser("pin")
    pin.add_argument("--url", required=True)
    pin.add_argument("--fingerprint", required=True)
    pin.add_argument("--out", required=True)
    pin.set_defaults(run=command_pin)
    preflight = commands.add_parser("preflight")
    preflight.add_argument("--url", required=True)
    preflight.add_argument("--state", required=True)
    preflight.set_defaults(run=command_preflight)
    curl = commands.add_parser("curl")
    curl.add_argument("--url", required=True)
    curl.add_argument("--state", required=True)
    curl.add_argument("--method", default="POST")
    curl.add_argument("--path", default="/api/v1/reports")
    curl.add_argument("body")
    curl.set_defaults(run=command_curl)
    summary = commands.add_parser("summary")
    summary.add_argument("--ndjson", required=True)
    summary.add_argument("--requests", help="the hooks' request log (ROLLCALL_FUZZ_REQUEST_LOG)")
    summary.add_argument("--failures", help="write the failed checks, with their exact requests, here (JSON)")
    summary.set_defaults(run=command_summary)
    args = parser.parse_args()
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
