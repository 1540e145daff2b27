"""A provider for make bench-scale: answers every DELETE with 204 after
DELAY milliseconds (asyncio: thousands in flight on one thread, HTTP/1.1
keep-alive), anything else with 404.  Prints its port, then serves until
killed.

    python3 tests/bench/slow.py [--delay-ms 20] [--port-file FILE]
"""
import argparse
import asyncio
import os

OK = b"HTTP/1.1 204 No Content\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


async def serve(reader, writer, delay):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"DELETE "):
                await asyncio.sleep(delay)
                writer.write(OK)
            else:
                writer.write(NOT_FOUND)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, a.delay_ms / 1000.0), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.rename(a.port_file + ".tmp", a.port_file)
    print(f"listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
