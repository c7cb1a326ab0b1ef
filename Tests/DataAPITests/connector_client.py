#!/usr/bin/env python3
"""A connector that is not written in Swift: nats-py reading ssmd's market subjects.

    python3 -u connector_client.py NATS_URL 'ssmd.market.<tag token>.>'

Subscribes with an ordered consumer, deliver policy last-per-subject, on stream
SSMD_SECMASTER. Prints one line `SNAPSHOT <json {ticker: status}>` once the last value of
every matching subject has arrived, then `UPDATE <ticker> <status> <tag>` per live update,
until SIGTERM/SIGINT.
"""
import asyncio, json, signal, sys

import nats
from nats.js.api import DeliverPolicy


async def main():
    url, subject = sys.argv[1], sys.argv[2]
    nc = await nats.connect(url, name="python-connector")
    js = nc.jetstream()
    sub = await js.subscribe(subject, stream="SSMD_SECMASTER", ordered_consumer=True,
                             deliver_policy=DeliverPolicy.LAST_PER_SUBJECT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    snapshot, in_snapshot = {}, True
    while not stop.is_set():
        try:
            msg = await sub.next_msg(timeout=0.5)
        except nats.errors.TimeoutError:
            if in_snapshot:  # nothing (more) matches
                print("SNAPSHOT " + json.dumps(snapshot), flush=True)
                in_snapshot = False
            continue
        update = json.loads(msg.data)
        assert update["schema"] == 1 and update["kind"] == "market", update
        market = update["market"]
        if in_snapshot:
            snapshot[market["ticker"]] = market["status"]
            if msg.metadata.num_pending == 0:
                print("SNAPSHOT " + json.dumps(snapshot), flush=True)
                in_snapshot = False
        else:
            print(f"UPDATE {market['ticker']} {market['status']} {update['tag']}", flush=True)
    await sub.unsubscribe()
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
