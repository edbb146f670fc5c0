"""Every example of the spec and every fixture of tests/fixtures/ validates against its schema
(OAS 3.0 rules, openapi-schema-validator), read with the conversion rules the spec declares in
`info.x-wix-conversions`; and every fixture is one of the spec's examples. Run by .ci/contract.
"""

import json
import pathlib
import sys

import warnings

import yaml
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonschema.validators import RefResolver
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "openapi/inbox-v2.yaml").read_text())
RESOLVER = RefResolver.from_schema(SPEC)
RULES = set(SPEC["info"]["x-wix-conversions"])
assert RULES == {"integral-floats", "int64-as-string", "null-as-absent"}, RULES


def wix_json(value):
    """Wix's JSON as the spec says to read it: integral floats are integers, a null is absent
    (an int64 as a string needs nothing: the spec declares it a string)."""
    if isinstance(value, dict):
        return {k: wix_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [wix_json(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def schema(name):
    return {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}


def check(what, value, target, validator):
    errors = list(validator(target, resolver=RESOLVER).iter_errors(wix_json(value)))
    for error in errors:
        path = "/".join(str(p) for p in error.absolute_path)
        print(f"{what}: at /{path}: {error.message[:300]}")
    return not errors


def resolve(node):
    while "$ref" in node:
        node = RESOLVER.resolve(node["$ref"])[1]
    return node


def event_body(domain_event, kind):
    """The part of a domain event that an `x-wix-event` schema of this `kind` describes, its
    JSON text fields (`bodyAsJson`, `entityAsJson`, ...) read as the JSON they hold."""
    if kind == "action":
        action = domain_event["actionEvent"]
        return action["body"] if "body" in action else json.loads(action["bodyAsJson"])
    part = dict(domain_event[f"{kind}Event"])
    for key in list(part):
        if key.endswith("AsJson"):
            part[key[: -len("AsJson")]] = json.loads(part.pop(key))
    return part


def main():
    ok, examples, known = True, 0, []
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            request = op.get("requestBody", {}).get("content", {}).get("application/json")
            answers = [("request", request, OAS30WriteValidator)] if request else []
            for status, answer in op["responses"].items():
                media = resolve(answer).get("content", {}).get("application/json")
                if media:
                    answers.append((status, media, OAS30ReadValidator))
            for where, media, validator in answers:
                for name, example in media.get("examples", {}).items():
                    what = f"{method.upper()} {path} {where} example {name}"
                    ok &= check(what, example["value"], media["schema"], validator)
                    known.append(example["value"])
                    examples += 1
    for name, component in SPEC["components"]["schemas"].items():
        if "example" in component:
            ok &= check(f"schema {name} example", component["example"], schema(name), OAS30ReadValidator)
            known.append(component["example"])
            examples += 1

    events = {
        (s["x-wix-event"]["entityFqdn"], s["x-wix-event"]["slug"]): (name, s["x-wix-event"]["kind"])
        for name, s in SPEC["components"]["schemas"].items()
        if "entityFqdn" in s.get("x-wix-event", {})
    }
    fixtures = sorted((ROOT / "tests/fixtures").rglob("*.json"))
    for path in fixtures:
        fixture = json.loads(path.read_text())
        what = str(path.relative_to(ROOT))
        if "envelope" in fixture:
            # A plain (older-style) app event: its envelope's `data` is the body, as JSON text.
            body = json.loads(fixture["envelope"]["data"])
            ok &= check(what, body, schema(fixture["schema"]), OAS30ReadValidator)
            continue
        if "schema" in fixture:
            body, name = fixture["body"], fixture["schema"]
            ok &= check(what, body, schema(name), OAS30ReadValidator)
            if name == "DomainEvent":
                event = events.get((body.get("entityFqdn"), body.get("slug")))
                if event is None:
                    print(f"{what}: no schema has its x-wix-event")
                    ok = False
                    continue
                event, kind = event
                body = event_body(body, kind)
                ok &= check(f"{what} ({kind} event)", body, schema(event), OAS30ReadValidator)
        else:  # a request body
            body = fixture
            ok &= check(what, body, schema("CreateContactRequest"), OAS30WriteValidator)
        if body not in known:
            print(f"{what}: not among the spec's examples (add it where its schema is used)")
            ok = False
    print(f"{examples} examples and {len(fixtures)} fixtures checked")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
