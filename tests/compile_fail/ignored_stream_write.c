/* SPDX-License-Identifier: MIT */
/* expect: unused|nodiscard|warn_unused_result
 * Must NOT compile (with -Werror): asyncio_stream_write()'s result ignored.
 * A full write buffer refuses the whole message (ENOBUFS): ignoring that
 * loses the bytes silently. */
#include "asyncio_stream.h"

void send_greeting(asyncio_stream *s);
void send_greeting(asyncio_stream *s) { asyncio_stream_write(s, "hello\n", 6); }
