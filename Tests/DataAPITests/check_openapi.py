#!/usr/bin/env python3
"""Check data-api's /openapi.yaml: it parses, it is a valid OpenAPI 3 document
(openapi-spec-validator), and real answers of the running API match the schemas it declares
(openapi-schema-validator, OAS 3.0 flavour, which understands `nullable`).

    python3 check_openapi.py BASE_URL TEMPLATE=PATH [TEMPLATE=PATH ...]

Each TEMPLATE is a path of the document (e.g. /v1/series/{ticker}); PATH is what to GET
(e.g. /v1/series/KXNBAGAME). The response's status picks the schema. Exit 0 = all valid.
"""
import copy, json, sys, urllib.error, urllib.request

import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def main():
    base, checks = sys.argv[1], sys.argv[2:]
    status, ctype, body = get(base + "/openapi.yaml")
    assert status == 200, f"/openapi.yaml → {status}"
    assert "yaml" in ctype, ctype
    spec = yaml.safe_load(body)
    validate(spec)
    assert spec["openapi"].startswith("3."), spec["openapi"]
    failures = 0
    for check in checks:
        template, path = check.split("=", 1)
        op = spec["paths"][template]["get"]
        status, ctype, body = get(base + path)
        response = op["responses"].get(str(status))
        if response is None:
            print(f"FAIL {path}: status {status} not declared for {template}")
            failures += 1
            continue
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].split("/")[-1]]
        content = response.get("content", {})
        media = next((m for m in content if m.split(";")[0] in ctype), None)
        if media is None:
            print(f"FAIL {path}: content type {ctype} not declared ({list(content)})")
            failures += 1
            continue
        schema = {"components": spec["components"]}
        schema.update(copy.deepcopy(content[media]["schema"]))
        if media == "application/json":
            errors = list(OAS30Validator(schema).iter_errors(json.loads(body)))
            for e in errors[:5]:
                print(f"FAIL {path}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
            failures += bool(errors)
        print(f"ok {status} {path}")
    print(f"{len(spec['paths'])} paths in the document; {len(checks)} answers checked; {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
