"""Checks the served OpenAPI document's event schemas against the catalogue's golden fixtures,
with Python's `jsonschema` (an implementation that shares nothing with locker).

Every fixture of a kind some door takes, as that door would receive it (its actor, nothing
sealed), must be valid; and each of a few changes that `schemas` refuses must make it invalid.
Usage: python fixtures.py URL GOLDEN_DIR
"""

import copy
import json
import pathlib
import sys
import urllib.request

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOORS = {
    "DocumentEnvelope": ({"issuer": None}, {"document_issued", "document_updated", "document_revoked"}),
    "DirectoryEnvelope": (
        "platform",
        {
            "issuer_registered",
            "requester_registered",
            "key_rotated",
            "key_revoked",
            "organisation_suspended",
            "organisation_reinstated",
        },
    ),
    "ConsentRequestedEnvelope": ({"requester": None}, {"consent_requested"}),
    "DocumentAccessedEnvelope": ({"requester": None}, {"document_accessed"}),
}


def validator(document, name):
    registry = Registry().with_resource(
        "urn:locker", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:locker#/components/schemas/{name}"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def as_sent(envelope, actor):
    sent = copy.deepcopy(envelope)
    sent["sealed"] = None
    if actor == "platform":
        sent["event"]["actor"] = "platform"
    else:
        (kind,) = actor
        current = sent["event"]["actor"]
        org = current.get(kind) if isinstance(current, dict) else None
        sent["event"]["actor"] = {kind: org or "in.gov.cbse"}
    return sent


# Changes `schemas` refuses when it decodes an event: each must break the schema too.
BREAKS = [
    ("an unknown field", lambda e: e["event"].__setitem__("extra", 1)),
    ("a short event id", lambda e: e["event"].__setitem__("id", "abcd")),
    ("a signature of 63 bytes", lambda e: e.__setitem__("signature", "00" * 63)),
    ("a time beyond i64", lambda e: e["event"].__setitem__("occurred_at_ms", 2**63)),
]


def main(url, golden):
    with urllib.request.urlopen(f"{url}/openapi.json") as answer:
        document = json.load(answer)
    checked = refused = 0
    failures = []
    for path in sorted(pathlib.Path(golden).glob("v*/*.json")):
        envelope = json.loads(path.read_text())
        (kind,) = envelope["event"]["payload"].keys()
        for name, (actor, kinds) in DOORS.items():
            if kind not in kinds:
                continue
            check = validator(document, name)
            sent = as_sent(envelope, actor)
            errors = [e.message for e in check.iter_errors(sent)]
            if errors:
                failures.append(f"{path.parent.name}/{path.name} as {name}: {errors[0]}")
            checked += 1
            for what, change in BREAKS:
                broken = copy.deepcopy(sent)
                change(broken)
                if check.is_valid(broken):
                    failures.append(f"{path.name} with {what} still fits {name}")
                refused += 1
    print(f"fixtures: {checked} golden events fit their door's schema; {refused} broken copies checked")
    for failure in failures:
        print(f"fixtures: FAIL {failure}")
    if failures or checked == 0:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
