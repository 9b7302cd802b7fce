/* SPDX-License-Identifier: MIT */
/*
 * all_macros.c -- user code that uses every macro of asyncio.h (and the
 * stream header), compiled with -Werror under the strict warning sets
 * firmware teams use: gcc and clang C99 (-Wshadow -Wconversion
 * -Wsign-conversion -Wundef -Wstrict-prototypes -Wmissing-prototypes, clang
 * -Wextra-semi-stmt), arm-none-eabi-gcc for Cortex-M7 (plus -Wcast-align),
 * and g++ -std=c++17 (-Wshadow -Wold-style-cast). `make test-strict`.
 * It is compiled only, never run.
 */
#include "asyncio.h"
#include "asyncio_stream.h"

/* The conversions user code itself makes, in the style of each language. */
#ifdef __cplusplus
#define static_cast_int(v) static_cast<int>(v)
#define static_cast_size(v) static_cast<size_t>(v)
#else
#define static_cast_int(v) ((int)(v))
#define static_cast_size(v) ((size_t)(v))
#endif

struct frame {
    asyncio_coro co;
    int64_t big; /* 8-byte alignment: ASYNC_FRAME keeps -Wcast-align quiet */
    int i;
    asyncio_task t;
    asyncio_lock lock;
    asyncio_event ev;
    asyncio_flag flag;
    asyncio_io io;
    asyncio_wait_for_state wf;
    asyncio_gather_state g;
    asyncio_task *tasks[1];
    asyncio_outcome out[1];
    asyncio_coro child;
    asyncio_stream s;
    unsigned char buf[16];
};

#ifdef __cplusplus
extern "C" {
#endif
int strict_child(asyncio_coro *co);
int strict_all(asyncio_coro *co);
#ifdef __cplusplus
}
#endif

int strict_child(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    YIELD;
    ASYNC_RETURN(7);
    ASYNC_END;
}

int strict_all(asyncio_coro *co)
{
    struct frame *f = ASYNC_FRAME(struct frame, co);
    ASYNC_BEGIN(co);
    AWAIT(asyncio_coro_init(&f->child, strict_child));
    f->i = static_cast_int(AWAIT_RESULT);
    if (asyncio_create_task(&f->t, asyncio_coro_init(&f->child, strict_child)) != 0)
        ASYNC_RAISE(ASYNCIO_EINVAL);
    AWAIT_TASK(&f->t);
    AWAIT_SLEEP(0.01);
    AWAIT_SLEEP_MS(10);
    YIELD;
    AWAIT_EVENT(&f->ev);
    AWAIT_LOCK(&f->lock);
    if (asyncio_lock_release(&f->lock) != 0)
        ASYNC_RAISE(ASYNCIO_ENOTHELD);
    AWAIT_FLAG(&f->flag);
    AWAIT_IO(&f->io, ASYNCIO_IO_READ);
    ASYNC_TRY(AWAIT(asyncio_wait_for_ms(&f->wf, asyncio_coro_init(&f->child, strict_child), 5)));
    if (AWAIT_ERROR == ASYNCIO_ETIMEDOUT)
        f->i++;
    f->tasks[0] = &f->t;
    AWAIT(asyncio_gather(&f->g, f->tasks, 1, f->out, 0));
    ASYNC_TRY_BLOCK
    {
        AWAIT_SLEEP_MS(1);
        AWAIT_SLEEP_MS(2);
    }
    ASYNC_EXCEPT(ASYNCIO_ECANCELLED) { f->i++; }
    ASYNC_TRY_END;
    ASYNC_TRY_BLOCK { AWAIT_SLEEP_MS(1); }
    ASYNC_EXCEPT_IF(AWAIT_ERROR < ASYNCIO_EUSER(0)) { ASYNC_RERAISE; }
    ASYNC_TRY_END;
    ASYNC_TRY_BLOCK { AWAIT_SLEEP_MS(1); }
    ASYNC_EXCEPT_ANY { f->i--; }
    ASYNC_TRY_END;
    /* one await per line, whatever the formatter prefers: */
    // clang-format off
    ASYNC_WITH_LOCK(&f->lock) {
        AWAIT_SLEEP_MS(1);
    } ASYNC_WITH_END(&f->lock);
    // clang-format on
    AWAIT(asyncio_stream_read(&f->s, f->buf, sizeof f->buf));
    if (asyncio_stream_write(&f->s, f->buf, static_cast_size(AWAIT_RESULT)) != 0)
        ASYNC_RAISE(ASYNCIO_ECLOSED);
    AWAIT(asyncio_stream_drain(&f->s));
    AWAIT(asyncio_stream_awrite(&f->s, f->buf, sizeof f->buf));
    AWAIT(asyncio_stream_readline(&f->s, f->buf, sizeof f->buf));
    if (f->i < 0)
        ASYNC_RETURN(f->big);
    ASYNC_FINALLY;
    if (ASYNC_ERROR == ASYNCIO_ECANCELLED)
        f->i = 0;
    ASYNC_TRY_BLOCK { AWAIT_SLEEP_MS(1); }
    ASYNC_EXCEPT_ANY { f->i = 1; }
    ASYNC_TRY_END;
    ASYNC_END;
}
