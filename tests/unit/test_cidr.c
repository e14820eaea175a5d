/* test_cidr.c — lib/cidr: addresses, blocks, containment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cidr.h"

static bool in(const char *net, const char *inner)
{
	struct cidr n, i;
	return cidr_parse(net, &n) && cidr_parse(inner, &i) && cidr_contains(&n, &i);
}

static bool has_addr(const char *net, const char *addr)
{
	struct cidr n, a;
	return cidr_parse(net, &n) && cidr_parse_addr(addr, strlen(addr), &a) && cidr_contains(&n, &a);
}

static void test_blocks(void **state)
{
	struct cidr c;

	(void)state;
	assert_true(cidr_parse("10.0.0.0/8", &c));
	assert_int_equal(c.family, 4);
	assert_int_equal(c.bits, 8);
	assert_true(cidr_parse("192.168.1.77/24", &c)); /* host bits cleared */
	assert_memory_equal(c.addr, "\xc0\xa8\x01\x00", 4);
	assert_true(cidr_parse("::1", &c));
	assert_int_equal(c.family, 6);
	assert_int_equal(c.bits, 128);
	assert_true(cidr_parse("2001:db8::/32", &c));
	assert_true(cidr_parse("0.0.0.0/0", &c));
	assert_true(cidr_parse("10.0.0.0/008", &c));
	assert_false(cidr_parse("10.0.0.0/0008", &c)); /* at most three digits */
	assert_false(cidr_parse("10.0.0.0/33", &c));
	assert_false(cidr_parse("2001:db8::/129", &c));
	assert_false(cidr_parse("10.0.0.0/+8", &c));
	assert_false(cidr_parse("10.0.0.0/-1", &c));
	assert_false(cidr_parse("10.0.0.0/", &c));
	assert_false(cidr_parse("10.0.0.0/8x", &c));
	assert_false(cidr_parse("10.0.0.0/ 8", &c));
	assert_false(cidr_parse("/8", &c));
	assert_false(cidr_parse("", &c));
	assert_false(cidr_parse("nope/8", &c));
	assert_false(cidr_parse("300.0.0.0/8", &c));
	assert_false(cidr_parse("[::1]/128", &c));      /* no brackets in a block */
	assert_false(cidr_parse("fe80::1%eth0/64", &c)); /* nor a zone */
	/* a mapped block stays IPv6 (as Go's ParseCIDR) unless unmapped */
	assert_true(cidr_parse("::ffff:10.0.0.0/104", &c));
	assert_int_equal(c.family, 6);
	assert_int_equal(c.bits, 104);
	assert_true(cidr_parse_unmapped("::ffff:10.0.0.0/104", &c));
	assert_int_equal(c.family, 4);
	assert_int_equal(c.bits, 8);
	assert_memory_equal(c.addr, "\x0a\0\0\0", 4);
	assert_false(cidr_parse_unmapped("::ffff:10.0.0.0/64", &c));
	assert_true(cidr_parse_unmapped("2001:db8::/32", &c));
	assert_int_equal(c.family, 6);
}

static void test_addresses(void **state)
{
	struct cidr c;

	(void)state;
	assert_true(cidr_parse_addr("10.1.2.3", 8, &c));
	assert_int_equal(c.family, 4);
	assert_int_equal(c.bits, 32);
	assert_true(cidr_parse_addr("[2001:db8::1]", 13, &c));
	assert_int_equal(c.family, 6);
	assert_true(cidr_parse_addr("fe80::1%eth0", 12, &c));
	assert_int_equal(c.family, 6);
	assert_true(cidr_parse_addr("::ffff:10.1.1.1", 15, &c));
	assert_int_equal(c.family, 4);
	assert_memory_equal(c.addr, "\x0a\x01\x01\x01", 4);
	assert_true(cidr_parse_addr("10.1.2.3junk", 8, &c)); /* only n bytes read */
	assert_false(cidr_parse_addr("10.1.2.3/8", 10, &c));
	assert_false(cidr_parse_addr("[::1", 4, &c));
	assert_false(cidr_parse_addr("", 0, &c));
	assert_false(cidr_parse_addr("garbage", 7, &c));
}

static void test_contains(void **state)
{
	(void)state;
	assert_true(in("10.0.0.0/8", "10.1.0.0/16"));
	assert_true(in("10.0.0.0/8", "10.0.0.0/8"));
	assert_false(in("10.0.0.0/16", "10.0.0.0/8")); /* wider is not inside */
	assert_false(in("10.0.0.0/8", "11.0.0.0/16"));
	assert_true(in("0.0.0.0/0", "203.0.113.9"));
	assert_false(in("0.0.0.0/0", "::1"));
	assert_true(in("192.168.1.0/25", "192.168.1.127"));
	assert_false(in("192.168.1.0/25", "192.168.1.128"));
	assert_true(has_addr("10.0.0.0/8", "::ffff:10.9.9.9"));
	assert_false(has_addr("::ffff:10.0.0.0/104", "10.9.9.9")); /* as Vault */
	assert_true(has_addr("2001:db8::/32", "[2001:db8:1::5]"));
	assert_false(has_addr("2001:db8::/32", "2001:db9::1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocks),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_contains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
