#!/usr/bin/env python3
"""Validate kalshi-sim responses against the official OpenAPI file with a real validator.

Starts the given kalshi-sim binary on a free loopback port (or uses --base), requests every
endpoint the simulator serves, and validates each 200 body against the response schema
the spec declares for it (openapi-schema-validator's OAS 3.0 validator, which understands
`nullable`). Exit status 0 = all valid.

    pip install openapi-schema-validator pyyaml
    python3 Tests/KalshiSimulatorTests/validate_openapi.py --sim-binary .build/debug/kalshi-sim
"""
import argparse, copy, json, os, subprocess, sys, urllib.parse, urllib.request

import yaml
from jsonschema import Draft7Validator
from openapi_schema_validator import OAS30Validator

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SPEC = os.path.join(HERE, "..", "..", "..", "shared", "kalshi", "openapi-v3.13.0.yaml")
DEFAULT_ASYNCAPI = os.path.join(HERE, "..", "..", "..", "shared", "kalshi", "asyncapi.yaml")


def load_spec(path):
    with open(path) as f:
        spec = yaml.safe_load(f)
    # Known spec-vs-exchange deviation: the real /search/tags_by_categories maps some
    # categories to null (recorded-2026-01/tags_by_categories_response.json: Elections,
    # Mentions, Social, Transportation), which the spec's schema does not allow.
    tags = spec["components"]["schemas"]["GetTagsForSeriesCategoriesResponse"]
    tags["properties"]["tags_by_categories"]["additionalProperties"]["nullable"] = True
    # The docs pages (which win over this older spec file) declare Series.tags,
    # settlement_sources and additional_prohibitions nullable; recorded series carry null there.
    for field in ("additional_prohibitions", "tags", "settlement_sources"):
        spec["components"]["schemas"]["Series"]["properties"][field]["nullable"] = True
    # The docs removed Market.fractional_trading_enabled from the REST schema (changelog,
    # "Deprecated Predictions REST schema fields removed"); this older file still requires it.
    market = spec["components"]["schemas"]["Market"]
    market["required"] = [f for f in market["required"] if f != "fractional_trading_enabled"]
    return spec


def asyncapi_validators(path):
    """JSON Schema validators for the lifecycle messages, by message type."""
    with open(path) as f:
        doc = yaml.safe_load(f)
    schemas = copy.deepcopy(doc["components"]["schemas"])
    # Known deviation of the schema from the exchange and from the docs' own examples
    # ("FED-23DEC-T3.00", "KXBTCD-25AUG0517-T114999.99"): tickers may contain ".".
    schemas["marketTicker"]["pattern"] = "^[A-Z0-9.-]+$"
    lifecycle = schemas["marketLifecycleV2Payload"]
    lifecycle["properties"]["msg"]["properties"]["market_ticker"]["pattern"] = "^[A-Z0-9.-]+$"
    # multivariateMarketLifecyclePayload is allOf(marketLifecycleV2Payload, type const
    # multivariate_market_lifecycle), which no message can satisfy (two consts): validate
    # MVE messages against the lifecycle payload with the MVE type.
    mve = copy.deepcopy(lifecycle)
    mve["properties"]["type"] = {"type": "string", "const": "multivariate_market_lifecycle"}

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/components/schemas/"):
                return resolve(copy.deepcopy(schemas[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return {
        "market_lifecycle_v2": Draft7Validator(resolve(lifecycle)),
        "multivariate_market_lifecycle": Draft7Validator(resolve(mve)),
        "event_lifecycle": Draft7Validator(resolve(schemas["eventLifecyclePayload"])),
    }


def schema_for(spec, path_template):
    op = spec["paths"][path_template]["get"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]
    root = {"components": spec["components"]}
    root.update(copy.deepcopy(ref))
    return root


def fetch(base, path):
    with urllib.request.urlopen(base + path, timeout=60) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default=os.environ.get("KALSHI_OPENAPI", DEFAULT_SPEC))
    ap.add_argument("--asyncapi", default=os.environ.get("KALSHI_ASYNCAPI", DEFAULT_ASYNCAPI))
    ap.add_argument("--sim-binary", help="kalshi-sim executable to start")
    ap.add_argument("--base", help="already running simulator, e.g. http://127.0.0.1:8089/trade-api/v2")
    ap.add_argument("--scale", default="0.02")
    args = ap.parse_args()
    spec = load_spec(args.spec)

    proc = None
    base = args.base
    if not base:
        if not args.sim_binary:
            ap.error("--sim-binary or --base is required")
        proc = subprocess.Popen([args.sim_binary, "--port", "0", "--scale", args.scale, "--rate-limit", "off"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        port = line.strip().rsplit(":", 1)[-1]
        base = f"http://127.0.0.1:{port}/trade-api/v2"
    failures = 0
    checked = 0
    try:
        markets = fetch(base, "/markets?limit=1000")["markets"]
        events = fetch(base, "/events?limit=200")["events"]
        series = fetch(base, "/series")["series"]
        cases = [
            ("/search/tags_by_categories", "/search/tags_by_categories"),
            ("/search/filters_by_sport", "/search/filters_by_sport"),
            ("/series", "/series"),
            ("/series", "/series?category=Sports&include_volume=true&include_product_metadata=true"),
            ("/markets", "/markets?limit=1000"),
            ("/markets", "/markets?status=settled&limit=200"),
            ("/markets", "/markets?status=closed&limit=200"),
            ("/markets", "/markets?mve_filter=only&limit=50"),
            ("/events", "/events?limit=200"),
            ("/events", "/events?with_nested_markets=true&limit=50"),
        ]
        # Single objects in every status, and a sample of series and events.
        by_status = {}
        for m in markets:
            by_status.setdefault(m["status"], m["ticker"])
        for st in ["settled", "closed", "unopened", "paused"]:
            page = fetch(base, f"/markets?status={st}&limit=5")["markets"]
            for m in page:
                by_status.setdefault(m["status"], m["ticker"])
        for t in by_status.values():
            cases.append(("/markets/{ticker}", "/markets/" + urllib.parse.quote(t)))
        for s in series[:20] + [s for s in series if s["tags"] is None][:3]:
            cases.append(("/series/{series_ticker}", "/series/" + urllib.parse.quote(s["ticker"]) + "?include_volume=true"))
        for e in events[:10]:
            cases.append(("/events/{event_ticker}", "/events/" + urllib.parse.quote(e["event_ticker"]) + "?with_nested_markets=true"))

        for template, path in cases:
            body = fetch(base, path)
            validator = OAS30Validator(schema_for(spec, template))
            errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
            checked += 1
            if errors:
                failures += 1
                print(f"FAIL {path}: {len(errors)} error(s)")
                for e in errors[:5]:
                    print("   ", "/".join(map(str, e.absolute_path)), "-", e.message[:200])
            else:
                print(f"ok   {path}")

        # WebSocket lifecycle messages of the two simulated days around the start, as the
        # simulator renders them (/_sim/truth/ws_messages), against asyncapi.yaml.
        validators = asyncapi_validators(args.asyncapi)
        now = int(fetch(base, "/_sim/clock")["now_unix"])
        with urllib.request.urlopen(f"{base}/_sim/truth/ws_messages?from={now - 86400}&to={now + 86400}", timeout=60) as r:
            messages = [json.loads(l) for l in r.read().splitlines() if l.strip()]
        seen = {}
        for line in messages:
            msg = line["message"]
            kind = msg["type"] + "/" + msg["msg"].get("event_type", "")
            errors = list(validators[msg["type"]].iter_errors(msg))
            seen[kind] = seen.get(kind, 0) + 1
            checked += 1
            if errors:
                failures += 1
                print(f"FAIL ws {kind} {json.dumps(msg)[:160]}")
                for e in errors[:5]:
                    print("   ", "/".join(map(str, e.absolute_path)), "-", e.message[:200])
        print("ws messages validated:", ", ".join(f"{k} {n}" for k, n in sorted(seen.items())))
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"{checked - failures}/{checked} responses valid against {os.path.basename(args.spec)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
