/* agent_rest.h — the agent gives back memory once it has been idle.
 *
 * The agent waits most of its life. A burst of work (a login, a render,
 * a proxied request, above all OpenSSL setting up its algorithms for the
 * first TLS handshake) leaves pages resident that the waiting agent does
 * not read: code and constants of the binary and its libraries
 * (object_pages.h) and free pages inside the heap (heap_trim.h). When no
 * part has noted work for a quiet period the main thread gives them back;
 * the next burst faults back in only what it reads.
 *
 * The parts call agent_rest_note() after each piece of work. The first
 * note after a release wakes the main thread through a pipe; later ones
 * only count, so a busy agent pays an atomic increment and a read per note and the
 * main thread wakes once per quiet period, never while nothing happens. */
#ifndef TROVE_AGENT_REST_H
#define TROVE_AGENT_REST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* How long no work must be noted before memory is given back. */
#define AGENT_REST_QUIET_MS 5000L

struct agent_rest {
	int fd[2];                 /* [1]: one byte per period, read by main */
	atomic_uint_fast64_t work; /* notes so far */
	atomic_bool armed;         /* a period is running (its byte is sent) */
	uint_fast64_t seen;        /* main's: the notes when the period began */
	long quiet_ms;
	/* Called by agent_rest_step when a quiet period ends: gives the
	 * memory back and returns the bytes advised. Tests count calls. */
	unsigned long (*give_back)(void);
};

/* Sets r up with a period already running (start-up is work too) and
 * give_back as the release (NULL: agent_rest_give_back). Returns 0 or
 * TROVE_ERR_INTERNAL (no pipe). */
int agent_rest_init(struct agent_rest *r, long quiet_ms, unsigned long (*give_back)(void));
void agent_rest_release(struct agent_rest *r);

/* From any thread: some work was done. */
void agent_rest_note(struct agent_rest *r);

/* For main's poll: the descriptor to watch for reading. */
int agent_rest_fd(const struct agent_rest *r);

/* Main, after each poll: readable when the descriptor had input,
 * timed_out when poll returned 0. Returns the timeout for the next poll
 * (-1: none). Gives memory back when a whole period passed with no note. */
long agent_rest_step(struct agent_rest *r, bool readable, bool timed_out);

/* The release: object_pages_release() and heap_trim(). */
unsigned long agent_rest_give_back(void);

#endif
