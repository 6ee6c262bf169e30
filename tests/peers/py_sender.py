#!/usr/bin/python3
"""A Python `websockets` (10.x, legacy asyncio API) server that talks first,
for the tests with real intermediaries (tests/integration/intermediaries.py).

    py_sender.py [--port N] [--deflate on|off] [--send N] [--size BYTES]
                 [--sizes A,B,...] [--random] [--close CODE] [--reason TEXT]
                 [--close-timeout SECONDS]

Prints one JSON object per line: {"event": "listening", "port": N} first,
then per connection: open (path, extensions as negotiated: what this server
put in its 101), sent (index, size, sha256 of each message it sent), message
(each one received, which it echoes back), error (a close it sent because the
peer broke the protocol), close (the code and reason it received, 1006 when
none, like ws's 'close' event, and whether a close frame came at all).

Right after the handshake it sends --send text messages (default 3) of --size
bytes each (default 1000), or one message per size of --sizes. A message is
"msg I " followed by a repeated pattern up to its size: very compressible,
so with --deflate on (the default) every one goes out compressed (RSV1), or
with --random, letters from a seeded generator (hardly compressible, still
valid UTF-8). After sending, with --close CODE it closes with that code and
--reason, waiting --close-timeout seconds (default 2) for the peer's close
frame before dropping the TCP connection; without --close it echoes every
data message it receives until the peer closes.
"""

import argparse
import asyncio
import hashlib
import json
import random
import signal
import string
import sys

import websockets.exceptions
import websockets.server


def log(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def digest(msg) -> "tuple[int, str]":
    raw = msg.encode("utf-8") if isinstance(msg, str) else bytes(msg)
    return len(raw), hashlib.sha256(raw).hexdigest()


def make_message(i: int, size: int, rnd: bool) -> str:
    head = f"msg {i} "
    if rnd:
        rng = random.Random(i)
        body = "".join(rng.choice(string.ascii_letters) for _ in range(max(0, size - len(head))))
    else:
        pattern = "the quick brown fox jumps over the lazy dog; "
        body = (pattern * (size // len(pattern) + 1))[: max(0, size - len(head))]
    return (head + body)[:size] if size >= len(head) else head[:size]


async def serve(args) -> None:
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.size] * args.send
    done = asyncio.get_running_loop().create_future()

    async def handler(ws, path=None):
        exts = ", ".join(e.name for e in ws.extensions)
        log({"event": "open", "path": ws.path.split("?")[0], "extensions": exts})

        async def echo():
            async for msg in ws:
                n, h = digest(msg)
                m = {"event": "message", "type": "text" if isinstance(msg, str) else "binary", "size": n, "sha256": h}
                if isinstance(msg, str) and n <= 256:
                    m["data"] = msg
                log(m)
                await ws.send(msg)

        try:
            for i, size in enumerate(sizes):
                msg = make_message(i, size, args.random)
                await ws.send(msg)
                n, h = digest(msg)
                log({"event": "sent", "index": i, "size": n, "sha256": h})
            if args.close is not None:
                await ws.close(args.close, args.reason)
            else:
                await echo()
        except websockets.exceptions.ConnectionClosedError as e:
            if e.sent is not None and e.rcvd is None:
                log({"event": "error", "code": e.sent.code, "message": e.sent.reason})
        except websockets.exceptions.ConnectionClosed:
            pass
        await ws.wait_closed()
        log({"event": "close", "code": ws.close_code, "reason": ws.close_reason, "close_frame": ws.close_rcvd is not None})

    server = await websockets.server.serve(
        handler,
        "127.0.0.1",
        args.port,
        ping_interval=None,
        close_timeout=args.close_timeout,
        compression="deflate" if args.deflate == "on" else None,
    )
    log({"event": "listening", "port": server.sockets[0].getsockname()[1]})
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(None))
    await done
    server.close()
    await server.wait_closed()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--deflate", choices=["on", "off"], default="on")
    p.add_argument("--send", type=int, default=3)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--sizes")
    p.add_argument("--random", action="store_true")
    p.add_argument("--close", type=int)
    p.add_argument("--reason", default="server done")
    p.add_argument("--close-timeout", type=float, default=2.0)
    args = p.parse_args()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
