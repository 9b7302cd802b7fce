# SPDX-License-Identifier: MIT
import asyncio
async def worker(lock):
    try:
        print("worker: start")
        await asyncio.sleep(0.01)
        print("worker: first sleep done")
        await asyncio.sleep(1)
        print("worker: not reached")
    except asyncio.CancelledError:
        print("worker: caught CancelledError")
    async with lock:
        print("worker: holds the lock")
        await asyncio.sleep(0.01)
    print("worker: released, locked =", lock.locked())
    try:
        async with lock:
            print("worker: holds the lock again")
            raise ValueError
    except ValueError:
        print("worker: ValueError after the release, locked =", lock.locked())
    return 42

async def main():
    lock = asyncio.Lock()
    t = asyncio.create_task(worker(lock))
    await asyncio.sleep(0.02)
    print("main: cancel")
    t.cancel()
    print("main: result", await t)

asyncio.run(main())
