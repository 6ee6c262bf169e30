#!/usr/bin/python3
"""A Python `websockets` (10.x, legacy asyncio API) peer for the wsinspect
integration tests; the mirror of ws_server.js and ws_client.js.

    py_peer.py server [--port N] [--deflate on|off] [--once]
    py_peer.py client --url URL [--steps full|none] [--close client-1000|server-1002|...]
                      [--deflate on|off] [--timeout SECONDS]

Prints one JSON object per line, the same observations as the Node peers:
listening (server), open, message, pong, error, http_status, close. The server
echoes data messages except the commands "close CODE REASON", "ping-me" and
"fragment-me"; the client's `full` steps are those of ws_client.js.
"""

import argparse
import asyncio
import json
import signal
import sys

import websockets.client
import websockets.exceptions
import websockets.server

REASONS = {1000: "bye now", 1002: "protocol error test"}


def log(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def log_message(msg) -> dict:
    if isinstance(msg, str):
        m = {"event": "message", "type": "text", "data": msg}
    else:
        m = {"event": "message", "type": "binary", "hex": bytes(msg).hex()}
    log(m)
    return m


def log_close(ws, exc=None) -> None:
    """The close as this side saw it: the code and reason it received (1006
    when none), like ws's 'close' event."""
    log({"event": "close", "code": ws.close_code, "reason": ws.close_reason})


def compression(opt):
    return {None: "deflate", "on": "deflate", "off": None}[opt]


async def serve(args) -> None:
    done = asyncio.get_running_loop().create_future()

    async def handler(ws, path=None):
        exts = ", ".join(e.name for e in ws.extensions)
        log({"event": "open", "path": ws.path.split("?")[0], "extensions": exts})
        try:
            async for msg in ws:
                log_message(msg)
                if isinstance(msg, str) and msg.startswith("close "):
                    _, code, reason = msg.split(" ", 2)
                    await ws.close(int(code), reason)
                elif msg == "ping-me":
                    waiter = await ws.ping("srv-ping")
                    await waiter
                    log({"event": "pong", "data": "srv-ping"})
                    await ws.send("got pong")
                elif msg == "fragment-me":
                    await ws.send(["server ", "frag", "ments"])
                else:
                    await ws.send(msg)
        except websockets.exceptions.ConnectionClosedError as e:
            if e.sent is not None and e.rcvd is None:
                log({"event": "error", "code": e.sent.code, "message": e.sent.reason})
        log_close(ws)
        if args.once and not done.done():
            done.set_result(None)

    server = await websockets.server.serve(
        handler, "127.0.0.1", args.port, compression=compression(args.deflate), ping_interval=None
    )
    log({"event": "listening", "port": server.sockets[0].getsockname()[1]})
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(None))
    await done
    server.close()
    await server.wait_closed()


async def client(args) -> int:
    try:
        ws = await websockets.client.connect(
            args.url, compression=compression(args.deflate), ping_interval=None, close_timeout=5
        )
    except websockets.exceptions.InvalidStatusCode as e:
        log({"event": "http_status", "status": e.status_code})
        return 0
    exts = ", ".join(e.name for e in ws.extensions)
    log({"event": "open", "extensions": exts})
    try:
        if args.steps == "full":
            await ws.send("hello \u2603")
            log_message(await ws.recv())
            await ws.send(bytes(range(256)))
            log_message(await ws.recv())
            await ws.send(["frag", "mented ", "\u2603 text"])
            log_message(await ws.recv())
            waiter = await ws.ping("cli-ping")
            await waiter
            log({"event": "pong", "data": "cli-ping"})
            await ws.send("ping-me")
            log_message(await ws.recv())
            await ws.send("fragment-me")
            log_message(await ws.recv())
            who, code = args.close.split("-")
            reason = REASONS.get(int(code), "closing")
            if who == "client":
                await ws.close(int(code), reason)
            else:
                await ws.send(f"close {code} {reason}")
        while True:
            log_message(await ws.recv())
    except websockets.exceptions.ConnectionClosedError as e:
        if e.sent is not None and e.rcvd is None:
            log({"event": "error", "code": e.sent.code, "message": e.sent.reason})
    except websockets.exceptions.ConnectionClosed:
        pass
    await ws.wait_closed()
    log_close(ws)
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--url")
    p.add_argument("--steps", default="full", choices=["full", "none"])
    p.add_argument("--close", default="client-1000")
    p.add_argument("--deflate", choices=["on", "off"])
    p.add_argument("--once", action="store_true")
    p.add_argument("--timeout", type=float, default=20)
    args = p.parse_args()
    if args.role == "server":
        asyncio.run(serve(args))
        return 0
    try:
        return asyncio.run(asyncio.wait_for(client(args), args.timeout))
    except asyncio.TimeoutError:
        log({"event": "timeout"})
        return 3


if __name__ == "__main__":
    sys.exit(main())
