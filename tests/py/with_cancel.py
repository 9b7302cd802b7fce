# SPDX-License-Identifier: MIT
import asyncio
async def holder(lock, ev):
    try:
        async with lock:
            print("holder: holds the lock")
            ev.set()
            await asyncio.sleep(1)
    except asyncio.CancelledError:
        print("holder: cancelled, locked =", lock.locked())
        raise

async def waiter(lock):
    async with lock:
        print("waiter: holds the lock")

async def main():
    lock = asyncio.Lock()
    ev = asyncio.Event()
    h = asyncio.create_task(holder(lock, ev))
    await ev.wait()
    w = asyncio.create_task(waiter(lock))
    await asyncio.sleep(0.01)
    h.cancel()
    try:
        await h
    except asyncio.CancelledError:
        print("main: holder cancelled")
    await w
    print("main: locked =", lock.locked())

asyncio.run(main())
