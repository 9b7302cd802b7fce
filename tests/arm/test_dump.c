/* SPDX-License-Identifier: MIT */
/*
 * test_dump.c -- the task dump on a Cortex-M7 under qemu, printed through
 * semihosting: tasks waiting on a sleep, an Event, a Lock, a flag (set by an
 * interrupt later), another task and a gather. The image's core is built
 * with ASYNCIO_DEBUG.
 *
 * The dump goes through a print callback that, so the expected output does
 * not depend on the link map, writes each address as the name of the object
 * it is, each tick relative to the test's start, and asyncio.h's own line
 * numbers as N.
 */
#include "openmv.h"
#include "rt.h"
#include "say.h"

static asyncio_event ev;
static asyncio_lock lock;
static asyncio_flag flag;
static asyncio_task sleeper_task, ev_task, lock_task, flag_task, await_task, g1_task, g2_task,
    gather_task, main_task;

/* ---- the addresses the dump may print, and their names ---- */
static const struct {
    const void *p;
    const char *name;
} names[] = {{&ev, "&ev"},
             {&lock, "&lock"},
             {&flag, "&flag"},
             {&sleeper_task, "&sleeper_task"},
             {&ev_task, "&ev_task"},
             {&lock_task, "&lock_task"},
             {&flag_task, "&flag_task"},
             {&await_task, "&await_task"},
             {&g1_task, "&g1_task"},
             {&g2_task, "&g2_task"},
             {&gather_task, "&gather_task"},
             {&main_task, "&main_task"}};

/* Does `s` start with `prefix`? (The runtime has no strncmp.) */
static int starts(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix) {
        s++;
        prefix++;
    }
    return *prefix == '\0';
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

static unsigned long parse(const char **s, unsigned base)
{
    unsigned long v = 0;
    while (base == 16 ? is_hex(**s) : is_digit(**s)) {
        char c = *(*s)++;
        v = v * base + (unsigned long)(is_digit(c) ? c - '0' : c - 'a' + 10);
    }
    return v;
}

static int print_line(void *ctx, const char *line)
{
    const char *s = line;
    (void)ctx;
    while (*s) {
        if (s[0] == '0' && s[1] == 'x') {
            unsigned long p;
            size_t i;
            s += 2;
            p = parse(&s, 16);
            for (i = 0; i < sizeof names / sizeof names[0]; i++)
                if ((unsigned long)(uintptr_t)names[i].p == p)
                    break;
            if (i < sizeof names / sizeof names[0])
                rt_printf("%s", names[i].name);
            else
                rt_printf("0x%lx", p);
        } else if (starts(s, "tick ")) {
            s += 5;
            rt_printf("tick t0+%lu", parse(&s, 10) - (unsigned long)say_t0);
        } else if (starts(s, "asyncio.h:")) {
            s += 10;
            parse(&s, 10);
            rt_printf("asyncio.h:N");
        } else {
            rt_printf("%c", *s++);
        }
    }
    rt_printf("\n");
    return 0;
}

/* ---- the coroutines ---- */
struct nap {
    asyncio_coro co;
    int32_t ms;
};
static int nap_fn(asyncio_coro *co)
{
    struct nap *f = ASYNC_FRAME(struct nap, co);
    ASYNC_BEGIN(co);
    AWAIT_SLEEP_MS(f->ms);
    ASYNC_END;
}

struct sleeper {
    asyncio_coro co;
    struct nap nap;
};
static int sleeper_fn(asyncio_coro *co)
{
    struct sleeper *f = ASYNC_FRAME(struct sleeper, co);
    ASYNC_BEGIN(co);
    f->nap.ms = 500;
    AWAIT(asyncio_coro_init(&f->nap.co, nap_fn));
    ASYNC_END;
}

static int ev_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_EVENT(&ev);
    ASYNC_END;
}

static int lock_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_LOCK(&lock);
    asyncio_ignore_(asyncio_lock_release(&lock));
    ASYNC_END;
}

static int flag_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_FLAG(&flag);
    say("flag_fn: woken by the interrupt");
    ASYNC_END;
}

static int await_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_TASK(&sleeper_task);
    ASYNC_END;
}

struct gatherer {
    asyncio_coro co;
    asyncio_gather_state g;
    asyncio_task *tasks[2];
    asyncio_outcome out[2];
};
static int gatherer_fn(asyncio_coro *co)
{
    struct gatherer *f = ASYNC_FRAME(struct gatherer, co);
    ASYNC_BEGIN(co);
    f->tasks[0] = &g1_task;
    f->tasks[1] = &g2_task;
    AWAIT(asyncio_gather(&f->g, f->tasks, 2, f->out, 0));
    ASYNC_END;
}

static int quick_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    ASYNC_END;
}

/* The frame interrupt of test_irq.c's kind: IRQ 5, pended from software. */
#define IRQ 5u
static void irq_handler(void) { asyncio_flag_set(&flag); }

static struct sleeper sleeper_f;
static struct nap g1_f;
static struct gatherer gather_f;
static asyncio_coro ev_co, lock_co, flag_co, await_co, g2_co, main_co;

static int main_fn(asyncio_coro *co)
{
    ASYNC_BEGIN(co);
    AWAIT_LOCK(&lock); /* held by main: lock_fn waits */
    asyncio_create_task(&sleeper_task, asyncio_coro_init(&sleeper_f.co, sleeper_fn));
    asyncio_create_task(&ev_task, asyncio_coro_init(&ev_co, ev_fn));
    asyncio_create_task(&lock_task, asyncio_coro_init(&lock_co, lock_fn));
    asyncio_create_task(&flag_task, asyncio_coro_init(&flag_co, flag_fn));
    asyncio_create_task(&await_task, asyncio_coro_init(&await_co, await_fn));
    g1_f.ms = 300;
    asyncio_create_task(&g1_task, asyncio_coro_init(&g1_f.co, nap_fn));
    asyncio_create_task(&g2_task, asyncio_coro_init(&g2_co, quick_fn));
    asyncio_create_task(&gather_task, asyncio_coro_init(&gather_f.co, gatherer_fn));
    YIELD; /* every task runs once and parks */
    RT_CHECK(asyncio_dump_tasks(print_line, NULL) == 8);
    /* Let everything end: the interrupt sets the flag, the rest is ours. */
    rt_irq_pend(IRQ);
    asyncio_event_set(&ev);
    asyncio_ignore_(asyncio_lock_release(&lock));
    AWAIT_TASK(&gather_task);
    AWAIT_TASK(&await_task);
    AWAIT_TASK(&flag_task);
    say("all done");
    RT_CHECK(asyncio_dump_tasks(print_line, NULL) == 1); /* main alone */
    ASYNC_END;
}

int main(void)
{
    int r;
    rt_irq_set(IRQ, irq_handler);
    rt_irq_enable(IRQ);
    asyncio_event_init(&ev);
    asyncio_lock_init(&lock);
    asyncio_flag_init(&flag); /* also starts the port's tick */
    say_t0 = asyncio_ticks_ms();
    r = asyncio_run(&main_task, asyncio_coro_init(&main_co, main_fn), NULL);
    RT_CHECK(r == 0);
    rt_done();
}
