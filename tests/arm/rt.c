/* SPDX-License-Identifier: MIT */
/*
 * rt.c -- freestanding runtime for the Cortex-M tests (see rt.h).
 *
 * Memory map of qemu's mps2-an500 (Cortex-M7): 4 MB SSRAM at 0x00000000
 * (code, vector table) and 4 MB SSRAM at 0x20000000 (data, stack), so the
 * initial stack pointer is 0x20400000. The linker script (mps2.ld) places
 * .text and the initial .data image in the first and .data/.bss in the second.
 */
#include "rt.h"

/* ---- architectural registers (System Control Space) ---- */
#define RT_REG(a) (*(volatile uint32_t *)(a))
#define RT_REG8(a) (*(volatile uint8_t *)(a))
#define RT_ICSR RT_REG(0xE000ED04u)
#define RT_VTOR RT_REG(0xE000ED08u)
#define RT_CFSR RT_REG(0xE000ED28u)
#define RT_HFSR RT_REG(0xE000ED2Cu)
#define RT_CPACR RT_REG(0xE000ED88u)
#define RT_NVIC_ISER(n) RT_REG(0xE000E100u + 4u * (n))
#define RT_NVIC_ICER(n) RT_REG(0xE000E180u + 4u * (n))
#define RT_NVIC_ISPR(n) RT_REG(0xE000E200u + 4u * (n))
#define RT_NVIC_IPR(n) RT_REG8(0xE000E400u + (n))

/* ---- symbols from the linker script ---- */
extern uint32_t rt_data_load[], rt_data_start[], rt_data_end[];
extern uint32_t rt_bss_start[], rt_bss_end[];
extern uint32_t rt_stack_top[];

int main(void);
void rt_reset(void);

/* ---- semihosting ---- */
#define RT_SYS_WRITE0 0x04u
#define RT_SYS_EXIT 0x18u
#define RT_SYS_EXIT_EXTENDED 0x20u
#define RT_ADP_APPLICATION_EXIT 0x20026u

static uint32_t rt_semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static char rt_line[256];
static size_t rt_line_len;

void rt_flush(void)
{
    if (rt_line_len) {
        rt_line[rt_line_len] = '\0';
        rt_semihost(RT_SYS_WRITE0, rt_line);
        rt_line_len = 0;
    }
}

static void rt_putc(char c)
{
    rt_line[rt_line_len++] = c;
    if (c == '\n' || rt_line_len == sizeof rt_line - 1)
        rt_flush();
}

static void rt_puts(const char *s)
{
    while (*s)
        rt_putc(*s++);
}

/* Unsigned number in `base`, at least `width` digits wide (padded with
 * `pad`), with an optional minus sign. */
static void rt_putnum(unsigned long v, unsigned base, int neg, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    if (neg)
        buf[n++] = '-';
    while (n < width--)
        rt_putc(pad);
    while (n)
        rt_putc(buf[--n]);
}

/* %d %i %u %x %c %s %p %%, with an optional '0', width and 'l'. */
void rt_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        int width = 0, lng = 0;
        char pad = ' ';
        if (*fmt != '%') {
            rt_putc(*fmt);
            continue;
        }
        fmt++;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        if (*fmt == 'l') {
            lng = 1;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            long v = lng ? va_arg(ap, long) : va_arg(ap, int);
            rt_putnum(v < 0 ? 0ul - (unsigned long)v : (unsigned long)v, 10, v < 0, width, pad);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long v = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            rt_putnum(v, *fmt == 'u' ? 10 : 16, 0, width, pad);
            break;
        }
        case 'p':
            rt_puts("0x");
            rt_putnum((unsigned long)(uintptr_t)va_arg(ap, void *), 16, 0, 8, '0');
            break;
        case 'c': rt_putc((char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            rt_puts(s ? s : "(null)");
            break;
        }
        case '%': rt_putc('%'); break;
        default: /* unknown conversion: show it */
            rt_putc('%');
            if (!*fmt)
                return;
            rt_putc(*fmt);
            break;
        }
    }
}

void rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
}

void rt_exit(int code)
{
    uint32_t block[2];
    rt_flush();
    block[0] = RT_ADP_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    rt_semihost(RT_SYS_EXIT_EXTENDED, block);
    /* Old hosts without SYS_EXIT_EXTENDED: plain exit (status 0 or 1). */
    rt_semihost(RT_SYS_EXIT, (const void *)(uintptr_t)(code ? 0x20023u : RT_ADP_APPLICATION_EXIT));
    for (;;)
        __asm__ volatile("wfi");
}

/* ---- test reporting ---- */
static unsigned rt_checks, rt_failed;

int rt_check(int ok, const char *what, const char *file, int line)
{
    rt_checks++;
    if (!ok) {
        rt_failed++;
        rt_printf("FAIL %s:%d: %s\n", file, line, what);
    }
    return ok;
}

void rt_done(void)
{
    rt_printf("%s: %u checks, %u failed\n", rt_failed ? "FAIL" : "PASS", rt_checks, rt_failed);
    rt_exit(rt_failed ? 1 : 0);
}

/* ---- interrupts ---- */
static rt_handler rt_irq_table[RT_NUM_IRQ];

void rt_irq_set(unsigned irq, rt_handler fn)
{
    if (irq < RT_NUM_IRQ)
        rt_irq_table[irq] = fn;
}

void rt_irq_enable(unsigned irq) { RT_NVIC_ISER(irq / 32u) = 1u << (irq % 32u); }

void rt_irq_disable(unsigned irq)
{
    RT_NVIC_ICER(irq / 32u) = 1u << (irq % 32u);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

void rt_irq_pend(unsigned irq)
{
    RT_NVIC_ISPR(irq / 32u) = 1u << (irq % 32u);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

void rt_irq_priority(unsigned irq, uint8_t prio) { RT_NVIC_IPR(irq) = prio; }

/* Every external interrupt lands here and is dispatched by its number. */
static void rt_irq_dispatch(void)
{
    unsigned irq = (RT_ICSR & 0x1FFu) - 16u;
    if (irq < RT_NUM_IRQ && rt_irq_table[irq])
        rt_irq_table[irq]();
    else {
        rt_printf("unexpected IRQ %u\n", irq);
        rt_exit(3);
    }
}

static void rt_fault(const char *what, const uint32_t *frame)
{
    rt_printf("\n%s: CFSR=%x HFSR=%x PC=%x LR=%x\n", what, (unsigned)RT_CFSR, (unsigned)RT_HFSR,
              (unsigned)frame[6], (unsigned)frame[5]);
    rt_exit(4);
}

static void rt_hardfault_c(const uint32_t *frame) { rt_fault("HardFault", frame); }

/* Find the stacked frame (MSP or PSP) and report where the fault hit. */
__attribute__((naked)) static void rt_hardfault(void)
{
    __asm__ volatile("tst lr, #4\n\t"
                     "ite eq\n\t"
                     "mrseq r0, msp\n\t"
                     "mrsne r0, psp\n\t"
                     "b %0" ::"i"(rt_hardfault_c));
}

static void rt_unexpected(void)
{
    rt_printf("unexpected exception %u\n", (unsigned)(RT_ICSR & 0x1FFu));
    rt_exit(3);
}

/* The firmware-side handlers a port may define (weak defaults here). */
void SysTick_Handler(void) __attribute__((weak, alias("rt_unexpected")));
void PendSV_Handler(void) __attribute__((weak, alias("rt_unexpected")));

/* ---- vector table ---- */
typedef void (*rt_vector)(void);
#define RT_IRQ8                                                                                    \
    rt_irq_dispatch, rt_irq_dispatch, rt_irq_dispatch, rt_irq_dispatch, rt_irq_dispatch,           \
        rt_irq_dispatch, rt_irq_dispatch, rt_irq_dispatch
__attribute__((section(".vectors"), used)) const rt_vector rt_vectors[16 + RT_NUM_IRQ] = {
    (rt_vector)(uintptr_t)rt_stack_top,
    rt_reset,
    rt_unexpected, /* NMI */
    rt_hardfault,
    rt_hardfault, /* MemManage */
    rt_hardfault, /* BusFault */
    rt_hardfault, /* UsageFault */
    0,
    0,
    0,
    0,
    rt_unexpected, /* SVCall */
    rt_unexpected, /* DebugMonitor */
    0,
    PendSV_Handler,
    SysTick_Handler,
    /* IRQ 0 .. 31 */
    RT_IRQ8,
    RT_IRQ8,
    RT_IRQ8,
    RT_IRQ8,
};

/* ---- reset ---- */
void rt_reset(void)
{
    uint32_t *src = rt_data_load, *dst = rt_data_start;
#if defined(__ARM_FP)
    /* Full access to CP10/CP11 (the FPU) before any floating-point code. */
    RT_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    RT_VTOR = (uint32_t)(uintptr_t)rt_vectors;
    while (dst < rt_data_end)
        *dst++ = *src++;
    for (dst = rt_bss_start; dst < rt_bss_end;)
        *dst++ = 0;
    rt_exit(main());
}

/* ---- what gcc may call even with -nostdlib ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
char *strerror(int err);

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    if (p < q) {
        while (n--)
            *p++ = *q++;
    } else {
        while (n--)
            p[n] = q[n];
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

/* For the streams (asyncio_stream.c): readline's search, and OSError text. */
void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (; n; n--, p++)
        if (*p == (unsigned char)c)
            return (void *)(uintptr_t)p;
    return NULL;
}

char *strerror(int err)
{
    (void)err;
    return (char *)(uintptr_t) "OS error (no strerror in this runtime)";
}
