/* test_aws.c — auth/aws below its routes: the local checks of a signed
 * GetCallerIdentity request, the STS answer extractor, ARNs and bindings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "auth/aws.h"
#include "encoding.h"
#include "err.h"

#define ENDPOINT "https://sts.example.test"
#define NOW 1765000000 /* 2025-12-06T05:46:40Z */
#define GOOD_DATE "20251206T054640Z"
#define AUTHZ                                                                                                \
	"AWS4-HMAC-SHA256 Credential=AKID/20251206/us-east-1/sts/aws4_request, "                             \
	"SignedHeaders=content-type;host;x-amz-date;x-vault-aws-iam-server-id, Signature=abcdef0123"

static char *b64(const char *s)
{
	static char out[4][4096];
	static int i;
	i = (i + 1) % 4;
	base64_encode((const unsigned char *)s, strlen(s), out[i]);
	return out[i];
}

/* Checks a request; returns the code and leaves the reason in why. */
static int check(const char *method, const char *url, const char *body, const char *headers_json,
                 struct buf *why, struct aws_forward *f)
{
	json_error_t e;
	json_t *h = headers_json ? json_loads(headers_json, 0, &e) : NULL;
	struct aws_login_input in = {method, url ? b64(url) : NULL, body ? b64(body) : NULL, h};
	struct strlist allowed;
	strlist_init(&allowed);
	strlist_push(&allowed, "X-Extra-Allowed");
	buf_reset(why);
	int r = aws_login_check(&in, ENDPOINT, "vault.example", &allowed, NOW, f, why);
	strlist_release(&allowed);
	json_decref(h);
	return r;
}

static const char *headers(const char *date, const char *authz, const char *server_id, const char *extra)
{
	static char out[4096];
	snprintf(out, sizeof(out),
	         "{\"Content-Type\": [\"application/x-www-form-urlencoded; charset=utf-8\"], \"X-Amz-Date\": "
	         "[\"%s\"], \"Authorization\": [\"%s\"]%s%s%s%s}",
	         date, authz, server_id ? ", \"X-Vault-AWS-IAM-Server-ID\": [\"" : "",
	         server_id ? server_id : "", server_id ? "\"]" : "", extra ? extra : "");
	return out;
}

#define GCI "Action=GetCallerIdentity&Version=2011-06-15"

static void expect_refused(const char *method, const char *url, const char *body, const char *h,
                           const char *needle)
{
	struct buf why;
	struct aws_forward f;
	buf_init(&why, 1024);
	aws_forward_init(&f);
	assert_int_equal(check(method, url, body, h, &why, &f), TROVE_ERR_INVALID);
	if (!strstr(why.data, needle))
		fail_msg("reason \"%s\" lacks \"%s\"", why.data, needle);
	assert_null(strstr(why.data, "abcdef0123")); /* never the signature */
	assert_int_equal(f.headers.len, 0);
	aws_forward_release(&f);
	buf_release(&why);
}

static void test_good_request_is_forwarded_as_signed(void **state)
{
	(void)state;
	struct buf why;
	struct aws_forward f;
	buf_init(&why, 1024);
	aws_forward_init(&f);
	const char *h = headers(GOOD_DATE, AUTHZ, "vault.example", ", \"Host\": \"sts.example.test\"");
	assert_int_equal(check("POST", ENDPOINT "/", GCI, h, &why, &f), 0);
	assert_string_equal(f.url, ENDPOINT "/");
	assert_string_equal(f.body, GCI);
	assert_int_equal(f.headers.len, 4); /* Host is left to the HTTP client */
	assert_true(strlist_contains(&f.headers, "X-Amz-Date: " GOOD_DATE));
	assert_true(strlist_contains(&f.headers, "Authorization: " AUTHZ));
	aws_forward_release(&f);
	/* the endpoint without its '/', another case of host; the headers
	 * as their JSON text rather than base64 */
	aws_forward_init(&f);
	json_t *txt = json_string(headers(GOOD_DATE, AUTHZ, "vault.example", NULL));
	struct aws_login_input in = {"POST", b64("https://STS.example.test"), b64(GCI), txt};
	assert_int_equal(aws_login_check(&in, ENDPOINT, "vault.example", NULL, NOW, &f, &why), 0);
	json_decref(txt);
	aws_forward_release(&f);
	buf_release(&why);
}

static void test_only_get_caller_identity_to_the_endpoint(void **state)
{
	(void)state;
	const char *h = headers(GOOD_DATE, AUTHZ, "vault.example", NULL);
	expect_refused("GET", ENDPOINT "/", GCI, h, "POST");
	expect_refused("POST", "https://sts.amazonaws.com/", GCI, h, "iam_request_url");
	expect_refused("POST", "https://sts.example.test.evil.test/", GCI, h, "iam_request_url");
	expect_refused("POST", "https://u:p@sts.example.test/", GCI, h, "iam_request_url");
	expect_refused("POST", ENDPOINT "/?Action=GetCallerIdentity", GCI, h, "iam_request_url");
	expect_refused("POST", ENDPOINT "/other", GCI, h, "iam_request_url");
	expect_refused("POST", "http://sts.example.test/", GCI, h, "iam_request_url");
	expect_refused("POST", ENDPOINT ":8443/", GCI, h, "iam_request_url");
	expect_refused("POST", ENDPOINT "/", "Action=GetSessionToken&Version=2011-06-15", h,
	               "iam_request_body");
	expect_refused("POST", ENDPOINT "/", GCI "&DurationSeconds=900", h, "iam_request_body");
	expect_refused("POST", ENDPOINT "/", "Action=GetCallerIdentity&Action=GetCallerIdentity", h,
	               "iam_request_body");
	expect_refused("POST", ENDPOINT "/", "Action=GetCallerIdentity", h, "iam_request_body");
	expect_refused("POST", ENDPOINT "/", "", h, "iam_request_body");
	expect_refused("POST", NULL, GCI, h, "iam_request_url");
}

static void test_signature_and_server_id(void **state)
{
	(void)state;
	expect_refused("POST", ENDPOINT, GCI,
	               headers(GOOD_DATE, "AWS4-HMAC-SHA1 Credential=x", "vault.example", NULL),
	               "Authorization");
	expect_refused("POST", ENDPOINT, GCI, "{\"X-Amz-Date\": \"" GOOD_DATE "\"}", "Authorization");
	expect_refused(
	    "POST", ENDPOINT, GCI,
	    headers(GOOD_DATE,
	            "AWS4-HMAC-SHA256 Credential=AKID/20251206/us-east-1/sts/aws4_request, "
	            "SignedHeaders=content-type;x-amz-date;x-vault-aws-iam-server-id, Signature=abcdef0123",
	            "vault.example", NULL),
	    "host");
	expect_refused("POST", ENDPOINT, GCI, headers(GOOD_DATE, AUTHZ, NULL, NULL), "missing header");
	expect_refused("POST", ENDPOINT, GCI, headers(GOOD_DATE, AUTHZ, "other.example", NULL),
	               "does not hold");
	expect_refused("POST", ENDPOINT, GCI,
	               headers(GOOD_DATE,
	                       "AWS4-HMAC-SHA256 Credential=AKID/20251206/us-east-1/sts/aws4_request, "
	                       "SignedHeaders=content-type;host;x-amz-date, Signature=abcdef0123",
	                       "vault.example", NULL),
	               "not signed");
}

static void test_dates_and_other_headers(void **state)
{
	(void)state;
	expect_refused("POST", ENDPOINT, GCI, headers("20251206T053040Z", AUTHZ, "vault.example", NULL),
	               "15 minutes");
	expect_refused("POST", ENDPOINT, GCI, headers("20251206T060240Z", AUTHZ, "vault.example", NULL),
	               "15 minutes");
	expect_refused("POST", ENDPOINT, GCI, headers("2025-12-06T05:46:40Z", AUTHZ, "vault.example", NULL),
	               "X-Amz-Date");
	expect_refused("POST", ENDPOINT, GCI,
	               headers(GOOD_DATE, AUTHZ, "vault.example", ", \"X-Forwarded-For\": \"a\""),
	               "X-Forwarded-For");
	expect_refused("POST", ENDPOINT, GCI,
	               headers(GOOD_DATE, AUTHZ, "vault.example", ", \"x-amz-date\": \"" GOOD_DATE "\""),
	               "repeated");
	expect_refused("POST", ENDPOINT, GCI,
	               headers(GOOD_DATE, AUTHZ, "vault.example", ", \"Bad Name\": \"a\""), "bad");
	expect_refused("POST", ENDPOINT, GCI,
	               headers(GOOD_DATE, AUTHZ, "vault.example", ", \"X-A\": \"a\\r\\nX-B: b\""), "bad");
	expect_refused("POST", ENDPOINT, GCI, headers(GOOD_DATE, AUTHZ, "vault.example", ", \"X-A\": 1"),
	               "bad");
	expect_refused("POST", ENDPOINT, GCI, "[1]", "JSON object");
	expect_refused("POST", ENDPOINT, GCI, NULL, "iam_request_headers");
	/* allowed_sts_header_values lets an unsigned header through */
	struct buf why;
	struct aws_forward f;
	buf_init(&why, 1024);
	aws_forward_init(&f);
	assert_int_equal(
	    check("POST", ENDPOINT, GCI,
	          headers(GOOD_DATE, AUTHZ, "vault.example", ", \"x-extra-allowed\": [\"1\", \"2\"]"), &why,
	          &f),
	    0);
	assert_true(strlist_contains(&f.headers, "x-extra-allowed: 1,2"));
	aws_forward_release(&f);
	buf_release(&why);
	int64_t t;
	assert_int_equal(aws_amz_date_parse(GOOD_DATE, &t), 0);
	assert_int_equal(t, NOW);
	assert_int_equal(aws_amz_date_parse("20251306T054640Z", &t), -1);
	assert_int_equal(aws_amz_date_parse("20251206T054640", &t), -1);
}

/* --- STS's answer ---------------------------------------------------------------- */

#define RESP(inner)                                                                                          \
	"<?xml version=\"1.0\"?>\n<GetCallerIdentityResponse "                                               \
	"xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"                                             \
	"  <GetCallerIdentityResult>" inner "</GetCallerIdentityResult>\n"                                   \
	"  <ResponseMetadata><RequestId>01234567-89ab</RequestId></ResponseMetadata>\n"                      \
	"</GetCallerIdentityResponse>\n"
#define FIELDS                                                                                               \
	"<Arn>arn:aws:iam::123456789012:user/team/alice</Arn><UserId>AIDAEXAMPLE</UserId>"                   \
	"<Account>123456789012</Account>"

static int parse(const char *xml, struct aws_caller *c)
{
	return aws_sts_identity_parse(xml, strlen(xml), c);
}

static void test_identity_extractor(void **state)
{
	(void)state;
	struct aws_caller c;
	assert_int_equal(parse(RESP(FIELDS), &c), 0);
	assert_string_equal(c.arn, "arn:aws:iam::123456789012:user/team/alice");
	assert_string_equal(c.user_id, "AIDAEXAMPLE");
	assert_string_equal(c.account, "123456789012");
	assert_int_equal(parse(RESP("<UserId>A&amp;B</UserId><Account>1</Account><Arn>arn:x</Arn>"), &c), 0);
	assert_string_equal(c.user_id, "A&B");

	const char *bad[] = {
	    RESP("<Arn>arn:x</Arn><UserId>u</UserId>"),                             /* no Account */
	    RESP(FIELDS "<Arn>arn:y</Arn>"),                                        /* twice */
	    RESP("<Arn><b>arn:x</b></Arn><UserId>u</UserId><Account>1</Account>"),  /* nested */
	    RESP("<Arn></Arn><UserId>u</UserId><Account>1</Account>"),              /* empty */
	    RESP("<Arn>a&#65;</Arn><UserId>u</UserId><Account>1</Account>"),        /* char ref */
	    RESP("<Arn>a b</Arn><UserId>u</UserId><Account>1</Account>"),           /* blank */
	    RESP("<!-- c --><Arn>a</Arn><UserId>u</UserId><Account>1</Account>"),   /* comment */
	    RESP("<Arn><![CDATA[a]]></Arn><UserId>u</UserId><Account>1</Account>"), /* CDATA */
	    "<!DOCTYPE x [<!ENTITY e \"a\">]>" RESP(FIELDS),
	    "<Other>" FIELDS "</Other>",
	    "<GetCallerIdentityResponse>" FIELDS "</GetCallerIdentityResponse>", /* outside the Result */
	    RESP(FIELDS) "<GetCallerIdentityResponse/>",                         /* two roots */
	    RESP(FIELDS) "trailing",
	    "<GetCallerIdentityResponse><GetCallerIdentityResult>" FIELDS, /* cut */
	    "<GetCallerIdentityResponse><a><b><c><d><e><f><g><h></h></g></f></e></d></c></b></a>"
	    "</GetCallerIdentityResponse>",
	    RESP("<Arn>arn:x</Wrong><UserId>u</UserId><Account>1</Account>"),
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &c) != TROVE_ERR_INVALID)
			fail_msg("accepted: %s", bad[i]);
		assert_string_equal(c.arn, "");
	}
	/* a value over its bound */
	char big[AWS_ARN_MAX + 600];
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	char doc[sizeof(big) + 512];
	snprintf(doc, sizeof(doc), RESP("<Arn>%s</Arn><UserId>u</UserId><Account>1</Account>"), big);
	assert_int_equal(parse(doc, &c), TROVE_ERR_INVALID);
}

static void test_error_code(void **state)
{
	(void)state;
	char code[64];
	const char *e = "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
	                "<Message>calculated ... signature</Message></Error></ErrorResponse>";
	aws_sts_error_code(e, strlen(e), code, sizeof(code));
	assert_string_equal(code, "SignatureDoesNotMatch");
	aws_sts_error_code("<html>", 6, code, sizeof(code));
	assert_string_equal(code, "");
	const char *odd = "<ErrorResponse><Error><Code>Bad&lt;script&gt;</Code></Error></ErrorResponse>";
	aws_sts_error_code(odd, strlen(odd), code, sizeof(code));
	assert_string_equal(code, "Badscript");
}

static void test_arns_and_bindings(void **state)
{
	(void)state;
	struct aws_principal p;
	char canon[AWS_ARN_MAX + 64];
	assert_int_equal(aws_arn_parse("arn:aws:iam::123456789012:user/team/alice", &p), 0);
	aws_arn_canonical(&p, canon, sizeof(canon));
	assert_string_equal(canon, "arn:aws:iam::123456789012:user/alice");
	assert_string_equal(p.friendly, "alice");
	assert_int_equal(aws_arn_parse("arn:aws-cn:sts::123456789012:assumed-role/deployer/build-42", &p), 0);
	aws_arn_canonical(&p, canon, sizeof(canon));
	assert_string_equal(canon, "arn:aws-cn:iam::123456789012:role/deployer");
	assert_string_equal(p.session, "build-42");
	assert_int_equal(aws_arn_parse("arn:aws:iam::123456789012:role/path/admin", &p), 0);
	const char *bad[] = {"arn:aws:sts::123456789012:federated-user/bob",
	                     "arn:aws:iam::123456789012:group/devs",
	                     "arn:aws:sts::123456789012:user/alice",
	                     "arn:aws:iam:us-east-1:123456789012:user/alice",
	                     "arn:aws:iam::12345678901x:user/alice",
	                     "arn:aws:iam::123456789012:user/",
	                     "arn:aws:iam::123456789012:user//alice",
	                     "arn:aws:sts::123456789012:assumed-role/deployer",
	                     "arn:aws:sts::123456789012:assumed-role/a/b/c",
	                     "aws:iam::123456789012:user/alice",
	                     ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (aws_arn_parse(bad[i], &p) != TROVE_ERR_INVALID)
			fail_msg("accepted: %s", bad[i]);

	struct strlist b;
	strlist_init(&b);
	const char *client = "arn:aws:iam::123456789012:user/team/alice";
	const char *canonical = "arn:aws:iam::123456789012:user/alice";
	strlist_push(&b, "arn:aws:iam::123456789012:user/bob");
	assert_false(aws_arn_bound(&b, client, canonical));
	strlist_push(&b, "arn:aws:iam::123456789012:user/team/*");
	assert_true(aws_arn_bound(&b, client, canonical)); /* by the path STS returned */
	strlist_release(&b);
	strlist_init(&b);
	strlist_push(&b, canonical);
	assert_true(aws_arn_bound(&b, client, canonical));
	strlist_release(&b);
	strlist_init(&b);
	strlist_push(&b, "arn:aws:iam::123456789012:role/deploy*");
	assert_true(aws_arn_bound(&b, "arn:aws:sts::123456789012:assumed-role/deployer/s",
	                          "arn:aws:iam::123456789012:role/deployer"));
	/* an assumed role's session is not part of what is bound */
	strlist_release(&b);
	strlist_init(&b);
	strlist_push(&b, "arn:aws:sts::123456789012:assumed-role/deployer/*");
	assert_false(aws_arn_bound(&b, "arn:aws:sts::123456789012:assumed-role/deployer/s",
	                           "arn:aws:iam::123456789012:role/deployer"));
	strlist_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_request_is_forwarded_as_signed),
	    cmocka_unit_test(test_only_get_caller_identity_to_the_endpoint),
	    cmocka_unit_test(test_signature_and_server_id),
	    cmocka_unit_test(test_dates_and_other_headers),
	    cmocka_unit_test(test_identity_extractor),
	    cmocka_unit_test(test_error_code),
	    cmocka_unit_test(test_arns_and_bindings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
