"""nats-py against the embedded broker: pub/sub, queue group, request/reply, no-responders.

Usage: python3 client_smoke.py nats://127.0.0.1:PORT
Exits non-zero on the first failed check.
"""

import asyncio
import sys
import time

import nats
from nats.errors import NoRespondersError


async def main(url: str) -> None:
    nc = await nats.connect(url, allow_reconnect=False)
    other = await nats.connect(url, allow_reconnect=False)

    # Publish/subscribe with a wildcard.
    received = []
    got_all = asyncio.Event()

    async def on_message(msg):
        received.append((msg.subject, msg.data))
        if len(received) == 3:
            got_all.set()

    await other.subscribe("py.*", cb=on_message)
    await other.flush()
    for n in range(3):
        await nc.publish(f"py.{n}", f"m{n}".encode())
    await asyncio.wait_for(got_all.wait(), 5)
    assert received == [("py.0", b"m0"), ("py.1", b"m1"), ("py.2", b"m2")], received
    print("pubsub ok")

    # A queue group: each message reaches exactly one member.
    counts = {"a": 0, "b": 0}
    done = asyncio.Event()

    def member(name):
        async def handler(_msg):
            counts[name] += 1
            if sum(counts.values()) == 100:
                done.set()

        return handler

    await nc.subscribe("py.jobs", queue="workers", cb=member("a"))
    await other.subscribe("py.jobs", queue="workers", cb=member("b"))
    await nc.flush()
    await other.flush()
    for n in range(100):
        await nc.publish("py.jobs", str(n).encode())
    await asyncio.wait_for(done.wait(), 5)
    # Both connections round-tripped a PING after the last job, so any duplicate has arrived;
    # the short pause lets its callback run.
    await nc.flush()
    await other.flush()
    await asyncio.sleep(0.05)
    assert sum(counts.values()) == 100, counts
    print(f"queue group ok {counts}")

    # Request/reply with headers.
    async def responder(msg):
        await other.publish(msg.reply, msg.data.upper(), headers={"Ack-For": msg.headers["Nats-Msg-Id"]})

    await other.subscribe("py.svc", cb=responder)
    await other.flush()
    response = await nc.request("py.svc", b"hello", timeout=5, headers={"Nats-Msg-Id": "batch-1"})
    assert response.data == b"HELLO", response.data
    assert response.headers == {"Ack-For": "batch-1"}, response.headers
    print("request/reply ok")

    # No responders fail at once instead of timing out.
    started = time.monotonic()
    try:
        await nc.request("nobody.listens", b"?", timeout=5)
    except NoRespondersError:
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, elapsed
        print(f"no responders ok ({elapsed * 1000:.1f} ms)")
    else:
        raise AssertionError("request to a subject nobody listens on succeeded")

    await nc.drain()
    await other.drain()
    print("all checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
