/* SPDX-License-Identifier: MIT */
/* coros.h -- coroutines that several test files share. Include after trace.h. */
#ifndef COROS_H
#define COROS_H

#include "asyncio.h"
#include "trace.h"

/* MicroPython's task(id, t) of its wait_for tests: traces its start, sleeps
 * `ms`, traces its end, returns id * 2. */
struct mp_task {
    asyncio_coro co;
    int id;
    int64_t ms;
};
static int mp_task_fn(asyncio_coro *co)
{
    struct mp_task *f = (struct mp_task *)co;
    ASYNC_BEGIN(co);
    trace("task start %d", f->id);
    AWAIT_SLEEP_MS(f->ms);
    trace("task end %d", f->id);
    ASYNC_RETURN(f->id * 2);
    ASYNC_END;
}
static asyncio_coro *mp_task(struct mp_task *f, int id, int64_t ms)
{
    f->id = id;
    f->ms = ms;
    return asyncio_coro_init(&f->co, mp_task_fn);
}

#endif
