/* SPDX-License-Identifier: MIT */
/*
 * test_basic.c -- tasks, sleeps, Event, Lock, gather, wait_for and cancel on
 * a Cortex-M7 under qemu, on real SysTick time.
 *
 * Every line is stamped with the milliseconds since the test began; the
 * output is compared with test_basic.expected. The build starts the tick
 * counter 256 ms before 2^32, so the scenarios cross the wrap-around.
 */
#include "openmv.h"
#include "rt.h"
#include "say.h"

#ifdef ASYNCIO_OPENMV_EXTERNAL_TICK
/* The firmware owns SysTick: this is "its" tick, which the port reads. */
static volatile uint32_t fw_ms = 0xFFFFFF00u;
void SysTick_Handler(void);
void SysTick_Handler(void) { fw_ms++; }
uint32_t asyncio_openmv_ticks_hook(void) { return fw_ms; }
static void fw_tick_start(void)
{
    *(volatile uint32_t *)0xE000E014u = RT_CORE_HZ / 1000u - 1u;
    *(volatile uint32_t *)0xE000E018u = 0;
    *(volatile uint32_t *)0xE000E010u = 7u;
}
#else
static void fw_tick_start(void) {}
#endif

/* ---- a sleeper: sleeps `ms`, returns `ms` ---- */
struct sleeper {
    asyncio_coro co;
    int32_t ms;
    const char *name;
};
static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = (struct sleeper *)co;
    ASYNC_BEGIN(co);
    say("%s sleeps %ld", f->name, (long)f->ms);
    AWAIT_SLEEP_MS(f->ms);
    say("%s woke", f->name);
    ASYNC_RETURN(f->ms);
    ASYNC_FINALLY;
    if (ASYNC_ERROR)
        say("%s cleanup: %s", f->name, asyncio_strerror(ASYNC_ERROR));
    ASYNC_END;
}
static asyncio_coro *sleeper(struct sleeper *f, const char *name, int32_t ms)
{
    f->name = name;
    f->ms = ms;
    return asyncio_coro_init(&f->co, sleeper_fn);
}

/* ---- an event waiter ---- */
struct waiter {
    asyncio_coro co;
    asyncio_event *ev;
    const char *name;
};
static int waiter_fn(asyncio_coro *co)
{
    struct waiter *f = (struct waiter *)co;
    ASYNC_BEGIN(co);
    say("%s waits", f->name);
    AWAIT_EVENT(f->ev);
    say("%s saw the event", f->name);
    ASYNC_END;
}

/* ---- a lock user: holds the lock for 10 ms ---- */
struct locker {
    asyncio_coro co;
    asyncio_lock *lock;
    const char *name;
};
static int locker_fn(asyncio_coro *co)
{
    struct locker *f = (struct locker *)co;
    ASYNC_BEGIN(co);
    AWAIT_LOCK(f->lock);
    say("%s has the lock", f->name);
    AWAIT_SLEEP_MS(10);
    say("%s releases", f->name);
    asyncio_lock_release(f->lock);
    ASYNC_END;
}

/* ---- a task that fails, and nobody looks ---- */
static int failer_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_RAISE(ASYNCIO_EUSER(1));
    ASYNC_END;
}

/* ---- main ---- */
struct main_frame {
    asyncio_coro co;
    uint32_t raw_start;
    asyncio_task tasks[3];
    asyncio_task *tp[3];
    struct sleeper s[3];
    struct waiter w[2];
    struct locker l[3];
    asyncio_event ev;
    asyncio_lock lock;
    asyncio_gather_state g;
    asyncio_outcome out[3];
    asyncio_wait_for_state wf;
    int i;
};

static int main_fn(asyncio_coro *co)
{
    static const char *const names[3] = {"a", "b", "c"};
    struct main_frame *f = (struct main_frame *)co;
    ASYNC_BEGIN(co);
    f->raw_start = asyncio_ticks_ms();

    say("-- sleeps");
    asyncio_create_task(&f->tasks[0], sleeper(&f->s[0], "a", 30));
    asyncio_create_task(&f->tasks[1], sleeper(&f->s[1], "b", 10));
    asyncio_create_task(&f->tasks[2], sleeper(&f->s[2], "c", 20));
    AWAIT_TASK(&f->tasks[0]);
    say("main: a returned %ld", (long)AWAIT_RESULT);

    say("-- event");
    asyncio_event_init(&f->ev);
    for (f->i = 0; f->i < 2; f->i++) {
        f->w[f->i].ev = &f->ev;
        f->w[f->i].name = names[f->i];
        asyncio_create_task(&f->tasks[f->i], asyncio_coro_init(&f->w[f->i].co, waiter_fn));
    }
    AWAIT_SLEEP_MS(50);
    say("main sets the event");
    asyncio_event_set(&f->ev);
    AWAIT_TASK(&f->tasks[1]);

    say("-- lock");
    asyncio_lock_init(&f->lock);
    for (f->i = 0; f->i < 3; f->i++) {
        f->l[f->i].lock = &f->lock;
        f->l[f->i].name = names[f->i];
        asyncio_create_task(&f->tasks[f->i], asyncio_coro_init(&f->l[f->i].co, locker_fn));
    }
    AWAIT_TASK(&f->tasks[2]);
    RT_CHECK(!asyncio_lock_locked(&f->lock));
    RT_CHECK(asyncio_lock_release(&f->lock) == ASYNCIO_ENOTHELD);

    say("-- gather");
    asyncio_create_task(&f->tasks[0], sleeper(&f->s[0], "a", 5));
    asyncio_create_task(&f->tasks[1], sleeper(&f->s[1], "b", 15));
    asyncio_create_task(&f->tasks[2], sleeper(&f->s[2], "c", 10));
    for (f->i = 0; f->i < 3; f->i++)
        f->tp[f->i] = &f->tasks[f->i];
    AWAIT(asyncio_gather(&f->g, f->tp, 3, f->out, 0));
    say("gather: %ld results: %ld %ld %ld", (long)AWAIT_RESULT, (long)f->out[0].value,
        (long)f->out[1].value, (long)f->out[2].value);

    say("-- wait_for");
    AWAIT(asyncio_wait_for_ms(&f->wf, sleeper(&f->s[0], "fast", 10), 30));
    say("wait_for: value %ld", (long)AWAIT_RESULT);
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, sleeper(&f->s[0], "slow", 100), 30)));
    say("wait_for: %s", asyncio_strerror(AWAIT_ERROR));
    RT_CHECK(AWAIT_ERROR == ASYNCIO_ETIMEDOUT);

    say("-- cancel");
    asyncio_create_task(&f->tasks[0], sleeper(&f->s[0], "victim", 1000));
    AWAIT_SLEEP_MS(20);
    RT_CHECK(asyncio_task_cancel(&f->tasks[0]) == 1);
    ASYNC_TRY(AWAIT_TASK(&f->tasks[0]));
    say("victim ended: %s", asyncio_strerror(AWAIT_ERROR));

    say("-- long sleep across the wrap");
    AWAIT_SLEEP_MS(300);
    say("main: slept 300");
    /* The raw counter started 256 ms before 2^32: it has wrapped. */
    RT_CHECK(asyncio_ticks_ms() < f->raw_start);
    RT_CHECK(asyncio_ticks_diff(asyncio_ticks_ms(), f->raw_start) > 256);

    say("-- an error nobody retrieves goes to asyncio_openmv_report()");
    asyncio_create_task(&f->tasks[0], asyncio_coro_init(&f->s[0].co, failer_fn));
    AWAIT_SLEEP_MS(1);
    ASYNC_RETURN(7);
    ASYNC_END;
}

static struct main_frame m;
static asyncio_task main_task;

int main(void)
{
    asyncio_value v = 0;
    int r;
    fw_tick_start();
    asyncio_get_event_loop(); /* starts the port's tick */
    say_t0 = asyncio_ticks_ms();
    r = asyncio_run(&main_task, asyncio_coro_init(&m.co, main_fn), &v);
    say("run: %d value %ld", r, (long)v);
    RT_CHECK(r == 0 && v == 7);
    rt_done();
}
