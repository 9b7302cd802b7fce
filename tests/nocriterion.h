/* SPDX-License-Identifier: MIT */
/*
 * nocriterion.h -- the few Criterion macros the ThreadSanitizer builds use
 * (tests/sync.mk builds with -DFLAG_TEST_NO_CRITERION). Criterion's sandbox
 * cannot start under TSan (its arena is mapped at fixed addresses TSan
 * reserves: Snaipe/Criterion#274), so this runner takes its place: every
 * test runs in a forked child, as Criterion does, with the suite's init and
 * timeout. Include it first, before trace.h.
 */
#ifndef NOCRITERION_H
#define NOCRITERION_H
#ifdef FLAG_TEST_NO_CRITERION

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define CRITERION_H_ /* trace.h's include of criterion.h is then empty */

struct shim_suite {
    void (*init)(void);
    int timeout;
};
struct shim_test {
    const char *suite, *name;
    const struct shim_suite *cfg;
    void (*fn)(void);
};
static struct shim_test shim_tests[32];
static int shim_ntests;

static void shim_register(const char *suite, const char *name, const struct shim_suite *cfg,
                          void (*fn)(void))
{
    struct shim_test t;
    t.suite = suite;
    t.name = name;
    t.cfg = cfg;
    t.fn = fn;
    if (shim_ntests < 32)
        shim_tests[shim_ntests++] = t;
}

static void shim_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, what);
    exit(1);
}

#define TestSuite(suite, ...) static const struct shim_suite shim_suite_##suite = {__VA_ARGS__}
#define Test(suite, name)                                                                          \
    static void suite##_##name(void);                                                              \
    __attribute__((constructor)) static void shim_reg_##suite##_##name(void)                       \
    {                                                                                              \
        shim_register(#suite, #name, &shim_suite_##suite, suite##_##name);                         \
    }                                                                                              \
    static void suite##_##name(void)
#define SHIM_CMP_(op, a, b, ...)                                                                   \
    do {                                                                                           \
        if (!((a)op(b)))                                                                           \
            shim_fail(#a " " #op " " #b, __FILE__, __LINE__);                                      \
    } while (0)
#define cr_assert_eq(...) SHIM_CMP_(==, __VA_ARGS__, 0)
#define cr_assert_neq(...) SHIM_CMP_(!=, __VA_ARGS__, 0)
#define cr_assert_geq(...) SHIM_CMP_(>=, __VA_ARGS__, 0)
#define cr_assert_gt(...) SHIM_CMP_(>, __VA_ARGS__, 0)
#define cr_assert_leq(...) SHIM_CMP_(<=, __VA_ARGS__, 0)
#define cr_assert(...) SHIM_CMP_(!=, (__VA_ARGS__), 0, 0)
/* The runner never sets ASYNCIO_UNDER_VALGRIND; a skip ends the test as passed. */
#define cr_skip_test(...) (printf("[SKIP] " __VA_ARGS__), printf("\n"), exit(0))
#define cr_assert_str_eq(a, b)                                                                     \
    do {                                                                                           \
        if (strcmp((a), (b)) != 0) {                                                               \
            fprintf(stderr, "trace:\n%s\nexpected:\n%s\n", (a), (b));                              \
            shim_fail("trace", __FILE__, __LINE__);                                                \
        }                                                                                          \
    } while (0)

int main(void)
{
    int failed = 0;
    for (int i = 0; i < shim_ntests; i++) {
        const struct shim_test *t = &shim_tests[i];
        int status = 0, waited = 0;
        pid_t pid;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            if (t->cfg->init)
                t->cfg->init();
            t->fn();
            exit(0);
        }
        while (waitpid(pid, &status, WNOHANG) == 0) {
            if (waited++ > t->cfg->timeout * 100) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                break;
            }
            nanosleep(&(struct timespec){0, 10000000}, NULL);
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("[PASS] %s::%s\n", t->suite, t->name);
        } else {
            printf("[FAIL] %s::%s\n", t->suite, t->name);
            failed++;
        }
    }
    printf("Tested: %d | Passing: %d | Failing: %d\n", shim_ntests, shim_ntests - failed, failed);
    return failed != 0;
}

#endif
#endif
