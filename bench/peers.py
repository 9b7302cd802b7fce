# SPDX-License-Identifier: MIT
"""CPython asyncio doing the same work as bench.c, for ratios measured in the same run.

    python3 bench/peers.py switch N M   -> ns per task switch (N tasks, each sleep(0) M times)
    python3 bench/peers.py event R      -> Event ping-pong round trips per second
    python3 bench/peers.py echo-server PORT  -> a streams echo server (runs until killed)
"""
import asyncio
import sys
import time


async def yielder(m):
    for _ in range(m):
        await asyncio.sleep(0)


async def switch(n, m):
    tasks = [asyncio.create_task(yielder(m)) for _ in range(n)]
    t0 = time.perf_counter()
    await asyncio.gather(*tasks)
    return (time.perf_counter() - t0) * 1e9 / (n * m)


async def event(rounds):
    ping, pong = asyncio.Event(), asyncio.Event()

    async def ponger():
        for _ in range(rounds):
            await ping.wait()
            ping.clear()
            pong.set()

    t = asyncio.create_task(ponger())
    t0 = time.perf_counter()
    for _ in range(rounds):
        ping.set()
        await pong.wait()
        pong.clear()
    await t
    return rounds / (time.perf_counter() - t0)


async def echo_server(port):
    async def handle(reader, writer):
        try:
            while True:
                data = await reader.read(256)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass  # the load client resets its connections when it stops
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main():
    mode = sys.argv[1]
    if mode == "switch":
        print("%.3f" % asyncio.run(switch(int(sys.argv[2]), int(sys.argv[3]))))
    elif mode == "echo-server":
        asyncio.run(echo_server(int(sys.argv[2])))
    elif mode == "event":
        print("%.3f" % asyncio.run(event(int(sys.argv[2]))))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
