/* SPDX-License-Identifier: MIT */
/* tls_certs.h -- a self-signed EC certificate for CN=micropython.local, made
 * at test time with the openssl command, for the TLS suites. */
#ifndef TLS_CERTS_H
#define TLS_CERTS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned char cert[4096], key[4096];
static size_t cert_len, key_len;

/* Read a PEM file with its terminating NUL (mbedTLS counts it). */
static size_t slurp(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    cr_assert_not_null(f, "%s", path);
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n + 1;
}

/* Make the key and certificate (the openssl command is a test dependency:
 * tools/deps.sh installs it, so its absence fails the test). */
static void make_test_certificate(void)
{
    char dir[] = "/tmp/asyncio_tls_XXXXXX", cmd[512], path[64];
    cr_assert_not_null(mkdtemp(dir), "no temporary directory");
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/key.pem -out %s/cert.pem -days 2 -subj /CN=micropython.local "
             ">/dev/null 2>&1",
             dir, dir);
    cr_assert_eq(system(cmd), 0, "the openssl command failed to make a test certificate");
    snprintf(path, sizeof path, "%s/cert.pem", dir);
    cert_len = slurp(path, cert, sizeof cert);
    unlink(path);
    snprintf(path, sizeof path, "%s/key.pem", dir);
    key_len = slurp(path, key, sizeof key);
    unlink(path);
    rmdir(dir);
}

#endif
