"""schemathesis hooks for locker: how each kind of caller proves who it is.

- Citizen routes (bearer session): the demo citizen `asha`, logged in again whenever a session
  ends. Routes that end sessions or count wrong passwords (log out, log out everywhere, change
  password) act as a second citizen this module signs up, so the fuzzer never locks asha out.
- Requester routes, and the issuer's Aadhaar references: RFC 9421 HTTP message signatures by
  the demo bank's key (the exam board's for references), computed here
  with Python's own Ed25519, BLAKE3 and SHA-256 (not locker's code), over the exact bytes
  `requests` will send.
- The bulk route's body is NDJSON: the schema's array, one JSON document per line.

Settings come from the environment `scripts/schemathesis` sets: LOCKER_URL, LOCKER_LOG (the
server's log, where the demo writes one-time passwords) and LOCKER_DATA (its data folder).
"""

import base64
import hashlib
import json
import os
import re
import secrets
import time
import urllib.parse

import blake3
import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

URL = os.environ["LOCKER_URL"]
LOG = os.environ["LOCKER_LOG"]
DATA = os.environ["LOCKER_DATA"]

ASHA = {"username": "asha", "password": "asha-demo-2024"}
SPARE = {"username": "fuzz.spare", "password": "a spare citizen's passphrase"}
SPARE_MOBILE = "9811100001"
SESSION_ENDERS = {"/v1/citizen/logout", "/v1/citizen/logout-everywhere", "/v1/citizen/password"}

BANK = "in.co.sbi"
BOARD = "in.gov.cbse"
STREAM = "/v1/requester/events"


def login(who):
    answer = requests.post(f"{URL}/v1/citizen/login", json=who, timeout=30)
    if answer.status_code != 200:
        # Locked out by the fuzzer's own wrong passwords: the routes then answer 401.
        return "no-session"
    return answer.json()["token"]


def otp_from_log(masked_tail):
    """The newest one-time password the demo's log sender wrote for a number."""
    for _ in range(50):
        with open(LOG, encoding="utf-8", errors="replace") as log:
            codes = [
                m.group(1)
                for line in log
                if masked_tail in line
                for m in [re.search(r'code="?([0-9]{6})', line)]
                if m
            ]
        if codes:
            return codes[-1]
        time.sleep(0.1)
    raise RuntimeError(f"no one-time password for ...{masked_tail} in {LOG}")


def sign_up_spare():
    if login(SPARE) != "no-session":
        return
    sent = requests.post(f"{URL}/v1/citizen/signup/otp", json={"mobile": SPARE_MOBILE}, timeout=30)
    sent.raise_for_status()
    code = otp_from_log(SPARE_MOBILE[-4:])
    body = {"mobile": SPARE_MOBILE, "otp": code, **SPARE}
    requests.post(f"{URL}/v1/citizen/signup", json=body, timeout=30).raise_for_status()


sign_up_spare()


SESSIONS = {}


def session_works(token):
    answer = requests.get(
        f"{URL}/v1/citizen/profile", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return answer.status_code == 200


def is_citizen_route(ctx):
    return ctx.operation.path.startswith("/v1/citizen/") and ctx.operation.path not in {
        "/v1/citizen/login",
        "/v1/citizen/signup",
        "/v1/citizen/signup/otp",
    }


@schemathesis.auth(cache_by_key=lambda case, ctx: case.operation.path in SESSION_ENDERS).apply_to(
    is_citizen_route
)
class CitizenSession:
    def get(self, case, ctx):
        who = SPARE if case.operation.path in SESSION_ENDERS else ASHA
        # schemathesis asks again after every 401, including those its own auth checks provoke;
        # a session that still works is kept, so asha logs in once. (The stateful phase feeds
        # asha's username from her profile into the login route with made-up passwords, which
        # locks her out of logging in from this address, as it should.)
        token = SESSIONS.get(who["username"])
        if token is None or not session_works(token):
            token = SESSIONS[who["username"]] = login(who)
        return token

    def set(self, case, token, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


def signing_key(org):
    with open(os.path.join(DATA, "demo-keys", f"{org}.key"), encoding="ascii") as f:
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(f.read().strip()))
    public = private.public_key().public_bytes_raw()
    # locker's key id: the first 16 bytes of BLAKE3 of the public key.
    return private, blake3.blake3(public).digest()[:16].hex()


def signer_of(path):
    """Who signs a request to this path: the demo bank for requester routes, the demo exam
    board for the issuer's Aadhaar references (the other issuer routes carry signed events)."""
    if path.startswith("/v1/requester/") and path != STREAM:
        # The event stream stays open for an hour: it is fuzzed unsigned (its 401s) only.
        return BANK
    if path.startswith("/v1/issuer/aadhaar-reference"):
        return BOARD
    return None


@schemathesis.auth(
    refresh_interval=None, retry_on=[], cache_by_key=lambda case, ctx: signer_of(case.operation.path)
).apply_to(lambda ctx: signer_of(ctx.operation.path) is not None)
class HttpSignature:
    """Signs each request as RFC 9421 says: @method @authority @path @query, and
    content-digest (RFC 9530, sha-256) when there is a body."""

    def get(self, case, ctx):
        return signing_key(signer_of(case.operation.path))

    def set(self, case, key, ctx):
        private, key_id = key
        case.headers = {
            k: v
            for k, v in (case.headers or {}).items()
            if k.lower() not in {"signature", "signature-input", "content-digest"}
        }
        prepared = requests.Request(**case.as_transport_kwargs(base_url=URL)).prepare()
        url = urllib.parse.urlsplit(prepared.url)
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        components = ['"@method"', '"@authority"', '"@path"', '"@query"']
        lines = [
            f'"@method": {prepared.method}',
            f'"@authority": {url.netloc.lower()}',
            f'"@path": {url.path}',
            f'"@query": ?{url.query}',
        ]
        headers = {}
        if body:
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            headers["Content-Digest"] = f"sha-256=:{digest}:"
            components.append('"content-digest"')
            lines.append(f'"content-digest": {headers["Content-Digest"]}')
        params = (
            f"({' '.join(components)});created={int(time.time())};"
            f'keyid="{signer_of(case.operation.path)}:{key_id}";alg="ed25519";nonce="{secrets.token_hex(16)}"'
        )
        lines.append(f'"@signature-params": {params}')
        signature = private.sign("\n".join(lines).encode())
        headers["Signature-Input"] = f"sig1={params}"
        headers["Signature"] = f"sig1=:{base64.b64encode(signature).decode()}:"
        case.headers.update(headers)


def ndjson_bytes(value):
    if isinstance(value, list):
        return "".join(json.dumps(row) + "\n" for row in value).encode()
    return json.dumps(value).encode()


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    return ndjson_bytes(value)


@schemathesis.check
def batch_rows_answered_one_by_one(ctx, response, case):
    """A batch is answered row by row (200, one result per line), so a schema-violating batch is
    not refused as a whole: its rows are. No fuzzed row carries a real issuer's signature, so
    none may be accepted, and every line gets its own result with a code."""
    if case.operation.path != "/v1/issuer/batches" or response.status_code != 200:
        return
    lines = ndjson_bytes(case.body).split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    answer = response.json()
    if answer["rows"] != len(lines) or len(answer["results"]) != len(lines):
        raise AssertionError(f"{len(lines)} lines sent, {answer['rows']} rows answered")
    if answer["accepted"] or answer["already_present"]:
        raise AssertionError(f"a fuzzed row was accepted: {answer}")
    if any(r["status"] != "rejected" or not r.get("code") for r in answer["results"]):
        raise AssertionError(f"a row without a refusal code: {answer}")
