/* SPDX-License-Identifier: MIT */
/*
 * test_uart.c -- a stream over the interrupt-driven UART transport, on a
 * Cortex-M7 under qemu, against a host program on the other end of UART0.
 *
 * tests/arm/run_uart.py starts qemu with UART0 on a unix socket it listens
 * on and talks to this firmware (semihosting stays the console for this
 * output):
 *
 *  1. Echo: the host sends 1 MiB of lines; the firmware readline()s each one
 *     and writes it back upper-cased (write + drain, as MicroPython's
 *     StreamWriter). The host checks every byte that comes back.
 *  2. Overflow: the host sends "!burst N E" (E: the echo bytes it sent); the
 *     firmware checks E, answers "!ready" and stops reading. The host sends N
 *     bytes; the RX ring (RX_RING bytes) fills and the ISR drops the rest.
 *     Once the drop count says all N arrived, the firmware reads again: the
 *     RX_RING bytes from before the loss, then ASYNCIO_EOVERRUN once. It
 *     answers "!overrun <got> <dropped>\n" plus the bytes it got.
 *  3. Carrying on: more echo lines after the overrun, then "!quit".
 *  4. close() wakes a reader parked on the UART (ECLOSED).
 *
 * The host checks the echo, the burst's prefix and the counts; this side
 * checks the error code and the counts too (RT_CHECK), and exits with PASS.
 */
#include "openmv.h"
#include "rt.h"
#include "say.h"

#define UART_INDEX 0u
#define RX_RING 1024u
#define TX_RING 512u

static unsigned char rx_ring[RX_RING], tx_ring[TX_RING];
static unsigned char rbuf[256], wbuf[512];
static asyncio_uart uart;
static asyncio_stream s;

/* UART0's RX and TX vectors, one priority: the port's handler for both. */
static void uart_isr(void) { asyncio_openmv_uart_irq(&uart); }

/* "!word a b": the numbers after the word, or -1. */
static long parse_num(const unsigned char *p, size_t n, int which)
{
    size_t i = 0;
    long v = -1;
    int field = -1;
    for (; i < n; i++) {
        if (p[i] == ' ') {
            field++;
            v = field == which ? 0 : v;
            continue;
        }
        if (field == which && p[i] >= '0' && p[i] <= '9')
            v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int starts(const unsigned char *p, size_t n, const char *word)
{
    size_t i;
    for (i = 0; word[i]; i++)
        if (i >= n || p[i] != (unsigned char)word[i])
            return 0;
    return 1;
}

struct main_frame {
    asyncio_coro co;
    unsigned char line[256];
    unsigned char burst[RX_RING + 64];
    size_t n, got;
    unsigned long echoed, lines;
    long burst_len;
    uint32_t dropped;
    int err;
    asyncio_task reader;
    asyncio_coro reader_co;
};

/* A reader parked on the idle UART; close() must wake it with ECLOSED. */
static int parked_err = 1;
static int parked_reader_fn(asyncio_coro *co)
{
    static unsigned char b[8];
    ASYNC_BEGIN(co);
    ASYNC_TRY(AWAIT(asyncio_stream_read(&s, b, sizeof b)));
    parked_err = AWAIT_ERROR;
    ASYNC_END;
}

/* write() then drain(), as MicroPython's StreamWriter: after a drain the
 * write buffer is empty, so a line (at most 256 bytes) always fits. */
#define WRITE_LINE(buf, len) RT_CHECK(asyncio_stream_write(&s, (buf), (len)) == 0)

static size_t fmt_overrun(unsigned char *out, unsigned long got, unsigned long dropped)
{
    char tmp[12];
    size_t n = 0, k;
    const char *w = "!overrun ";
    unsigned long v[2];
    int i;
    v[0] = got;
    v[1] = dropped;
    while (*w)
        out[n++] = (unsigned char)*w++;
    for (i = 0; i < 2; i++) {
        k = 0;
        do {
            tmp[k++] = (char)('0' + v[i] % 10);
            v[i] /= 10;
        } while (v[i]);
        while (k)
            out[n++] = (unsigned char)tmp[--k];
        out[n++] = i == 0 ? ' ' : '\n';
    }
    return n;
}

static int main_fn(asyncio_coro *co)
{
    struct main_frame *f = (struct main_frame *)co;
    size_t i;
    ASYNC_BEGIN(co);
    say("-- echo: readline, upper-case, write + drain");
    for (;;) {
        ASYNC_TRY(AWAIT(asyncio_stream_readline(&s, f->line, sizeof f->line)));
        if (AWAIT_ERROR) {
            say("echo: readline failed: %s after %lu lines, %lu bytes; dropped %lu, rx %lu/%lu, "
                "tx %lu/%lu",
                asyncio_strerror(AWAIT_ERROR), f->lines, f->echoed,
                (unsigned long)asyncio_openmv_uart_dropped(&uart), (unsigned long)uart.rx_in,
                (unsigned long)uart.rx_out, (unsigned long)uart.tx_in, (unsigned long)uart.tx_out);
            ASYNC_RAISE(AWAIT_ERROR);
        }
        f->n = (size_t)AWAIT_RESULT;
        if (f->n == 0) {
            say("unexpected EOF");
            RT_CHECK(0);
            ASYNC_RETURN(0);
        }
        if (f->line[0] == '!')
            break;
        for (i = 0; i < f->n; i++)
            if (f->line[i] >= 'a' && f->line[i] <= 'z')
                f->line[i] = (unsigned char)(f->line[i] - 'a' + 'A');
        WRITE_LINE(f->line, f->n);
        AWAIT(asyncio_stream_drain(&s));
        f->echoed += f->n;
        f->lines++;
    }
    say("echo: %lu lines, %lu bytes each way", f->lines, f->echoed);
    RT_CHECK(starts(f->line, f->n, "!burst "));
    f->burst_len = parse_num(f->line, f->n, 0);
    RT_CHECK(parse_num(f->line, f->n, 1) == (long)f->echoed);
    RT_CHECK(f->burst_len > (long)RX_RING);
    RT_CHECK(asyncio_openmv_uart_dropped(&uart) == 0);

    say("-- overflow: %ld bytes into a %u-byte ring, not reading", f->burst_len, (unsigned)RX_RING);
    WRITE_LINE("!ready\n", 7);
    AWAIT(asyncio_stream_drain(&s));
    /* Not reading: the ring keeps its first RX_RING bytes, the ISR drops the
     * rest. Wait (without reading) until the drop count says all came. */
    while ((long)asyncio_openmv_uart_dropped(&uart) < f->burst_len - (long)RX_RING)
        AWAIT_SLEEP_MS(1);
    f->got = 0;
    for (;;) {
        ASYNC_TRY(AWAIT(asyncio_stream_read(&s, f->burst + f->got, sizeof f->burst - f->got)));
        if (AWAIT_ERROR) {
            f->err = AWAIT_ERROR;
            break;
        }
        f->got += (size_t)AWAIT_RESULT;
    }
    f->dropped = asyncio_openmv_uart_dropped(&uart);
    say("read: %lu bytes, then %s; dropped %lu", (unsigned long)f->got, asyncio_strerror(f->err),
        (unsigned long)f->dropped);
    RT_CHECK(f->err == ASYNCIO_EOVERRUN);
    RT_CHECK(f->got == RX_RING);
    RT_CHECK((long)f->dropped == f->burst_len - (long)RX_RING);
    f->n = fmt_overrun(f->line, (unsigned long)f->got, (unsigned long)f->dropped);
    WRITE_LINE(f->line, f->n);
    AWAIT(asyncio_stream_awrite(&s, f->burst, f->got)); /* more than the write buffer */

    say("-- carrying on after the overrun");
    f->lines = 0;
    for (;;) {
        AWAIT(asyncio_stream_readline(&s, f->line, sizeof f->line));
        f->n = (size_t)AWAIT_RESULT;
        RT_CHECK(f->n > 0);
        if (f->n == 0 || f->line[0] == '!')
            break;
        for (i = 0; i < f->n; i++)
            if (f->line[i] >= 'a' && f->line[i] <= 'z')
                f->line[i] = (unsigned char)(f->line[i] - 'a' + 'A');
        WRITE_LINE(f->line, f->n);
        AWAIT(asyncio_stream_drain(&s));
        f->lines++;
    }
    RT_CHECK(starts(f->line, f->n, "!quit"));
    RT_CHECK(asyncio_openmv_uart_dropped(&uart) == f->dropped); /* reported once, no more */
    say("after: %lu lines echoed", f->lines);
    RT_CHECK(f->lines > 0);

    say("-- close() wakes a reader parked on the UART");
    asyncio_create_task(&f->reader, asyncio_coro_init(&f->reader_co, parked_reader_fn));
    AWAIT_SLEEP_MS(5); /* the host sends nothing more: the reader parks */
    RT_CHECK(parked_err == 1);
    asyncio_stream_close(&s);
    AWAIT_TASK(&f->reader);
    say("parked reader: %s", asyncio_strerror(parked_err));
    RT_CHECK(parked_err == ASYNCIO_ECLOSED);
    RT_CHECK(asyncio_stream_write(&s, "x", 1) == ASYNCIO_ECLOSED);
    AWAIT(asyncio_stream_wait_closed(&s));
    ASYNC_END;
}

static struct main_frame m;
static asyncio_task main_task;

int main(void)
{
    int r;
    static asyncio_uart bad;
    /* Arguments the transport refuses. */
    RT_CHECK(asyncio_openmv_uart_init(&bad, 5, 115200, rx_ring, 16, tx_ring, 16) == ASYNCIO_EINVAL);
    RT_CHECK(asyncio_openmv_uart_init(&bad, 1, 115200, rx_ring, 0, tx_ring, 16) == ASYNCIO_EINVAL);
    RT_CHECK(asyncio_openmv_uart_init(&bad, 1, 25000000u, rx_ring, 16, tx_ring, 16) ==
             ASYNCIO_EINVAL); /* BAUDDIV would be 1 (the UART needs >= 16) */

    rt_irq_set(ASYNCIO_OPENMV_UART_RX_IRQ(UART_INDEX), uart_isr);
    rt_irq_set(ASYNCIO_OPENMV_UART_TX_IRQ(UART_INDEX), uart_isr);
    rt_irq_priority(ASYNCIO_OPENMV_UART_RX_IRQ(UART_INDEX), 0x80);
    rt_irq_priority(ASYNCIO_OPENMV_UART_TX_IRQ(UART_INDEX), 0x80);
    RT_CHECK(asyncio_openmv_uart_init(&uart, UART_INDEX, 115200, rx_ring, sizeof rx_ring, tx_ring,
                                      sizeof tx_ring) == 0);
    rt_irq_enable(ASYNCIO_OPENMV_UART_RX_IRQ(UART_INDEX));
    rt_irq_enable(ASYNCIO_OPENMV_UART_TX_IRQ(UART_INDEX));
    asyncio_stream_init(&s, rbuf, sizeof rbuf, wbuf, sizeof wbuf);
    RT_CHECK(asyncio_stream_open(&s, &uart.base) == 0);

    asyncio_get_event_loop();
    say_t0 = asyncio_ticks_ms();
    r = asyncio_run(&main_task, asyncio_coro_init(&m.co, main_fn), NULL);
    say("run: %d", r);
    RT_CHECK(r == 0);
    rt_done();
}
