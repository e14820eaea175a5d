/* body_buffer.h — a request body's input buffer allocated once, at the
 * request's size, instead of grown by doubling on the event loop.
 *
 * h2o 2.2.5 keeps a request's head and body in its connection's input
 * buffer and grows that buffer by doubling from 8 KiB: every step copies
 * what has arrived into fresh pages, on the loop, in one go. A 32 MiB
 * body costs the loop about 32 MiB of copies and 64 MiB of page faults
 * besides reading it, the last steps 16 and 32 MiB at once, while every
 * other connection of that loop waits.
 *
 * Once a quarter of a request that declares its Content-Length has
 * arrived, body_buffer_fit moves it into a buffer of its whole size: one
 * copy of that quarter, no step after it. Waiting for a quarter bounds
 * what a client can make Trove allocate (and lock, under mlock) to four
 * times what it has sent; doubling bounds it to two, four in its last
 * step. Called on the loop between h2o's read and its parse (listener.c);
 * h2o copies what it keeps of a request head, because it moves the buffer
 * itself. */
#ifndef TROVE_BODY_BUFFER_H
#define TROVE_BODY_BUFFER_H

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>

/* Smaller buffers are left to h2o: its steps up to here are cheap. */
#define BODY_BUFFER_MIN ((size_t)64 << 10)

/* The size of the HTTP/1 request at the start of bytes: its head plus its
 * Content-Length. 0 when the head is incomplete or malformed, when it has
 * no Content-Length or a Transfer-Encoding (chunked: no size known), or
 * when the length is over max_body (h2o refuses it with 413 unread). */
size_t body_buffer_request_size(const char *bytes, size_t len, size_t max_body);

/* *input holds the start of a request still being read. Moves it into a
 * buffer of the request's size (plus the 4 KiB h2o asks for before each
 * read) when a quarter of it has arrived and the buffer would have to
 * grow. Returns true when nothing more is to be done for this buffer
 * (moved, big enough, or not a sized request), false when it is to be
 * asked again after the next read (too little yet). Keeps the buffer as
 * it is when memory runs out. */
bool body_buffer_fit(h2o_buffer_t **input, size_t max_body);

#endif
