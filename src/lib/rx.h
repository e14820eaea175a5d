/* rx.h — Go's regular expressions: the syntax of Go's regexp package
 * (RE2's), matched as Go matches them, in bounded time and memory.
 *
 * Kubernetes resources and templates carry Go expressions (VSO's
 * transformation includes/excludes, sprig's regex functions), written by
 * whoever may write the resource. The C library's regcomp reads another
 * syntax, picks another match, and can be made to take gigabytes; this is
 * RE2's design instead: the text is parsed into a program of at most
 * RX_INST_MAX instructions, and a Pike machine runs every thread of it in
 * step over the input. Matching takes time proportional to the input
 * times the program and memory proportional to the program alone; no
 * input can make it backtrack or grow.
 *
 * Syntax: literals and any escaped punctuation; . [...] [^...] with
 * ranges, [:alpha:]-style classes (also [:^alpha:]) and \d \s \w inside;
 * \d \D \s \S \w \W; \a \f \t \n \r \v, \x41, \x{263a}, octal \123, \Q...\E;
 * ^ $ \A \z \b \B; (re), (?P<name>re), (?<name>re), (?:re), (?flags)
 * and (?flags:re) with i m s U; * + ? {n} {n,} {n,m} and their lazy forms
 * (a following ?). Counts are at most RX_COUNT_MAX, as in Go. Text and
 * expression are UTF-8, matched rune by rune (an invalid byte is U+FFFD).
 *
 * Not there, refused with a reason: Unicode classes (\pL, \p{Greek}), and
 * what Go refuses too (backreferences, lookaround). Differences: (?i)
 * folds ASCII letters only; \b, \w and [:alpha:] are ASCII, as in Go.
 *
 * An expression whose threads, each keeping every group, would hold more
 * than RX_SLOTS_MAX positions is refused as too large, so a search never
 * needs more than a few MiB.
 *
 * A struct rx is read-only once compiled: threads may share it. */
#ifndef TROVE_RX_H
#define TROVE_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RX_PATTERN_MAX 4096
#define RX_INST_MAX 10000
#define RX_COUNT_MAX 1000
#define RX_DEPTH_MAX 200
#define RX_SLOTS_MAX ((size_t)1 << 19)

struct rx;

/* Compiles the n bytes at p (no terminator needed). 0 with *out (freed
 * by rx_free); -1 with *out NULL and why[cap] saying what is wrong, in
 * Go's words where Go has them ("missing closing )"). */
int rx_compile(const char *p, size_t n, struct rx **out, char *why, size_t cap);
void rx_free(struct rx *r);

/* Capturing groups, not counting the whole match (group 0). */
size_t rx_groups(const struct rx *r);
/* Group k's name ((?P<name>...)), or NULL when it has none. */
const char *rx_group_name(const struct rx *r, size_t k);
/* Instructions in the program: the matcher's work per input rune is at
 * most proportional to it. */
size_t rx_size(const struct rx *r);

/* The leftmost-first match (Go's) in s[0..n) that starts at or after
 * `from`; the bytes before `from` are context for ^ and \b, as in Go's
 * FindAll. 1 when there is one, with cap[2k], cap[2k+1] the byte offsets
 * where group k starts and ends (-1 for a group that took no part), for
 * k < npairs (groups past rx_groups are -1); 0 when there is none. cap
 * may be NULL when npairs is 0.
 *
 * budget, when not NULL, is the work the search may do (one unit per
 * thread per rune, more when many groups are kept) and is decreased by
 * the work done; -1 when it ran out before the search ended. */
int rx_find(const struct rx *r, const char *s, size_t n, size_t from, long *cap, size_t npairs,
            uint64_t *budget);

#endif
