#!/usr/bin/python3
"""A Python `websockets` (10.x, legacy asyncio API) peer for the wsinspect
integration tests; the mirror of ws_server.js and ws_client.js.

    py_peer.py server [--port N] [--deflate on|off] [--once] [--tls-cert FILE --tls-key FILE]
    py_peer.py client --url URL [--steps full|none] [--close client-1000|server-1002|...]
                      [--deflate on|off] [--timeout SECONDS] [--ca FILE]

Prints one JSON object per line, the same observations as the Node peers:
listening (server), open, message, pong, error, http_status, close. The server
echoes data messages except the commands "close CODE REASON", "ping-me" and
"fragment-me"; the client's `full` steps are those of ws_client.js.

Optional, for both roles (the same flags as the Node peers):
  --deflate-params PARAMS  permessage-deflate with these RFC 7692 parameters,
                           e.g. "server_no_context_takeover;
                           client_max_window_bits=9" ("" for the defaults:
                           context takeover, 15-bit windows); overrides
                           --deflate. A client offers them, a server accepts
                           offers with them. Every message is compressed.
  --digest                 log data messages as {type, size, sha256} (size in
                           bytes) instead of their content
  --max-size N             the largest message accepted (websockets' max_size)
Server only:
  --tls-cert FILE, --tls-key FILE
                           wss://: TLS with this PEM certificate chain and key
Client only:
  --ca FILE                for a wss:// URL: trust the server's certificate if
                           these PEM CA certificates sign it, instead of the
                           system's store (the certificate and its name are
                           always checked); a TLS failure is logged as an
                           error, then a close with code 1006
  --script FILE            instead of the --steps: a JSON list of messages,
                           each {"text": S}, {"hex": H} (binary) or
                           {"fragments": [S, ...]} (one text message in
                           several frames); each is sent and one reply awaited
                           and logged, then the client closes as --close says
"""

import argparse
import asyncio
import hashlib
import json
import signal
import ssl
import sys

import websockets.client
import websockets.exceptions
import websockets.server
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

REASONS = {1000: "bye now", 1002: "protocol error test"}


def log(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


DIGEST = False  # --digest


def log_message(msg) -> dict:
    if DIGEST:
        raw = msg.encode("utf-8") if isinstance(msg, str) else bytes(msg)
        m = {"event": "message", "type": "text" if isinstance(msg, str) else "binary", "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    elif isinstance(msg, str):
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


def deflate_params(text: str) -> dict:
    """RFC 7692 parameters ("a; b=9") as the factories' keyword arguments."""
    out = {}
    for part in text.split(";"):
        name, _, value = part.strip().partition("=")
        if not name or name == "permessage-deflate":
            continue
        if name not in ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"):
            raise SystemExit(f"unknown permessage-deflate parameter {name!r}")
        out[name] = int(value) if value else True
    return out


def connection_options(args, role: str) -> dict:
    """compression/extensions (and max_size) for serve() or connect()."""
    opts = {}
    if args.max_size is not None:
        opts["max_size"] = args.max_size
    if args.deflate_params is None:
        opts["compression"] = compression(args.deflate)
        return opts
    params = deflate_params(args.deflate_params)
    factory = ServerPerMessageDeflateFactory if role == "server" else ClientPerMessageDeflateFactory
    opts["compression"] = None
    opts["extensions"] = [factory(**params)]
    return opts


def server_tls(args):
    """The server's SSLContext for --tls-cert/--tls-key, or None."""
    if not args.tls_cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return ctx


def client_tls(args):
    """The client's SSLContext for a wss:// URL (verifying), or None."""
    if not args.url.lower().startswith("wss://"):
        return None
    return ssl.create_default_context(cafile=args.ca) if args.ca else ssl.create_default_context()


def script_messages(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        steps = json.load(f)
    out = []
    for step in steps:
        if "text" in step:
            out.append(step["text"])
        elif "hex" in step:
            out.append(bytes.fromhex(step["hex"]))
        elif "fragments" in step:
            out.append(list(step["fragments"]))
        else:
            raise SystemExit(f"bad script step {step!r}")
    return out


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
        handler, "127.0.0.1", args.port, ping_interval=None, ssl=server_tls(args), **connection_options(args, "server")
    )
    log({"event": "listening", "port": server.sockets[0].getsockname()[1]})
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(None))
    await done
    server.close()
    await server.wait_closed()


async def close_as_asked(ws, args) -> None:
    """--close: client-CODE closes, server-CODE asks the server to."""
    who, code = args.close.split("-")
    reason = REASONS.get(int(code), "closing")
    if who == "client":
        await ws.close(int(code), reason)
    else:
        await ws.send(f"close {code} {reason}")


async def client(args) -> int:
    opts = connection_options(args, "client")
    tls = client_tls(args)
    if tls:
        opts["ssl"] = tls
    try:
        ws = await websockets.client.connect(args.url, ping_interval=None, close_timeout=5, **opts)
    except websockets.exceptions.InvalidStatusCode as e:
        log({"event": "http_status", "status": e.status_code})
        return 0
    except ssl.SSLError as e:
        # As ws reports it: an error, then the close it never had (1006).
        log({"event": "error", "code": getattr(e, "reason", None) or type(e).__name__, "message": str(e)})
        log({"event": "close", "code": 1006, "reason": ""})
        return 0
    exts = ", ".join(e.name for e in ws.extensions)
    log({"event": "open", "extensions": exts})
    try:
        if args.script:
            for m in script_messages(args.script):
                await ws.send(m)
                log_message(await ws.recv())
            await close_as_asked(ws, args)
        elif args.steps == "full":
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
            await close_as_asked(ws, args)
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
    p.add_argument("--deflate-params")
    p.add_argument("--digest", action="store_true")
    p.add_argument("--max-size", type=int)
    p.add_argument("--script")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--ca")
    args = p.parse_args()
    global DIGEST
    DIGEST = args.digest
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
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
