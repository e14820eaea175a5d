/* test_aws_sign.c — `trove login -method=aws`'s signing side: SigV4
 * against AWS's published test vectors (get-vanilla, post-vanilla of the
 * SigV4 test suite) and a GetCallerIdentity signed by botocore, the login
 * fields, and the credentials sources that need no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/aws_sign.h"
#include "encoding.h"
#include "err.h"

#define KEY "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"

static void expect_sig(const char *method, const struct sigv4_header *h, size_t nh, const char *body,
                       const char *region, const char *service, const struct aws_creds *c,
                       const char *want)
{
	struct buf out;
	buf_init(&out, 4096);
	assert_int_equal(sigv4_authorization(method, "/", "", h, nh, body, body ? strlen(body) : 0, region,
	                                     service, DATE, c, &out),
	                 0);
	assert_string_equal(out.data, want);
	buf_release(&out);
}

static void test_sigv4_suite_vectors(void **state)
{
	(void)state;
	struct aws_creds c = {KEY, SECRET, NULL};
	/* headers in any order and case */
	const struct sigv4_header h[] = {{"X-Amz-Date", DATE}, {"Host", "example.amazonaws.com"}};
	expect_sig("GET", h, 2, NULL, "us-east-1", "service", &c,
	           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	           "SignedHeaders=host;x-amz-date, "
	           "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	expect_sig("POST", h, 2, NULL, "us-east-1", "service", &c,
	           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	           "SignedHeaders=host;x-amz-date, "
	           "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
	/* blanks around and inside a value do not change the signature */
	const struct sigv4_header spaced[] = {{"host", "  example.amazonaws.com "}, {"x-amz-date", DATE}};
	expect_sig("GET", spaced, 2, NULL, "us-east-1", "service", &c,
	           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	           "SignedHeaders=host;x-amz-date, "
	           "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void test_get_caller_identity_as_botocore_signs_it(void **state)
{
	(void)state;
	struct aws_creds c = {KEY, SECRET, "TOKEN"};
	const struct sigv4_header h[] = {
	    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
	    {"Host", "sts.amazonaws.com"},
	    {"X-Amz-Date", DATE},
	    {"X-Amz-Security-Token", "TOKEN"},
	    {"X-Vault-AWS-IAM-Server-ID", "vault.example.com"},
	};
	expect_sig(
	    "POST", h, 5, "Action=GetCallerIdentity&Version=2011-06-15", "us-east-1", "sts", &c,
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, "
	    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-vault-aws-iam-server-id, "
	    "Signature=916fc6c59c5ceb95575a11f564d5d66157a8f6dea6775832aaea97562c4f9107");
}

static json_t *decoded(const json_t *data, const char *field)
{
	const char *s = json_string_value(json_object_get(data, field));
	static unsigned char out[8192];
	size_t n = 0;
	assert_non_null(s);
	assert_int_equal(base64_decode(s, strlen(s), out, sizeof(out) - 1, &n), 0);
	out[n] = '\0';
	if (strcmp(field, "iam_request_headers") != 0)
		return json_string((const char *)out);
	json_error_t e;
	return json_loads((const char *)out, 0, &e);
}

static void test_login_fields(void **state)
{
	(void)state;
	struct aws_creds c = {KEY, SECRET, "TOKEN"};
	struct buf why;
	json_t *d = NULL;
	buf_init(&why, 1024);
	assert_int_equal(aws_login_data(&c, NULL, NULL, "vault.example.com", 1440938160, &d, &why), 0);
	assert_string_equal(json_string_value(json_object_get(d, "iam_http_request_method")), "POST");
	json_t *u = decoded(d, "iam_request_url"), *b = decoded(d, "iam_request_body");
	json_t *h = decoded(d, "iam_request_headers");
	assert_string_equal(json_string_value(u), "https://sts.amazonaws.com/");
	assert_string_equal(json_string_value(b), "Action=GetCallerIdentity&Version=2011-06-15");
	/* 1440938160 is 20150830T123600Z: the same request as botocore's above */
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(h, "Authorization"), 0)),
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, "
	    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-vault-aws-iam-server-id, "
	    "Signature=916fc6c59c5ceb95575a11f564d5d66157a8f6dea6775832aaea97562c4f9107");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(h, "X-Vault-AWS-IAM-Server-ID"), 0)),
	    "vault.example.com");
	json_decref(u);
	json_decref(b);
	json_decref(h);
	json_decref(d);
	/* another region, no server ID, an explicit URL with a port */
	c.session_token = NULL;
	assert_int_equal(aws_login_data(&c, NULL, "eu-west-1", NULL, 1440938160, &d, &why), 0);
	u = decoded(d, "iam_request_url");
	h = decoded(d, "iam_request_headers");
	assert_string_equal(json_string_value(u), "https://sts.eu-west-1.amazonaws.com/");
	assert_null(json_object_get(h, "X-Vault-AWS-IAM-Server-ID"));
	assert_null(json_object_get(h, "X-Amz-Security-Token"));
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(h, "Authorization"), 0)),
	                       "/eu-west-1/sts/aws4_request"));
	json_decref(u);
	json_decref(h);
	json_decref(d);
	assert_int_equal(aws_login_data(&c, "https://127.0.0.1:8443/", NULL, NULL, 1440938160, &d, &why),
	                 0);
	h = decoded(d, "iam_request_headers");
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "Host"), 0)),
	                    "127.0.0.1:8443");
	json_decref(h);
	json_decref(d);
	assert_int_equal(aws_login_data(&c, "https://u@sts.example/", NULL, NULL, 0, &d, &why),
	                 TROVE_ERR_INVALID);
	assert_int_equal(aws_login_data(&c, "ftp://sts.example/", NULL, NULL, 0, &d, &why),
	                 TROVE_ERR_INVALID);
	buf_release(&why);
}

static void test_credentials_file_and_environment(void **state)
{
	(void)state;
	struct aws_creds c = {0};
	const char *ini =
	    "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key=sd\n\n"
	    "[ci]\n  aws_access_key_id =AKIDCI  \naws_secret_access_key = s ci\naws_session_token = tok\n"
	    "[half]\naws_access_key_id = AKIDHALF\n";
	assert_int_equal(aws_creds_from_ini(ini, "ci", &c), 0);
	assert_string_equal(c.access_key, "AKIDCI");
	assert_string_equal(c.secret_key, "s ci");
	assert_string_equal(c.session_token, "tok");
	aws_creds_release(&c);
	assert_int_equal(aws_creds_from_ini(ini, "default", &c), 0);
	assert_null(c.session_token);
	aws_creds_release(&c);
	assert_int_equal(aws_creds_from_ini(ini, "half", &c), TROVE_ERR_NOT_FOUND);
	assert_null(c.access_key);
	assert_int_equal(aws_creds_from_ini(ini, "missing", &c), TROVE_ERR_NOT_FOUND);

	struct buf why;
	buf_init(&why, 8192);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "senv", 1);
	setenv("AWS_SESSION_TOKEN", "tenv", 1);
	assert_int_equal(aws_creds_load(&c, &why), 0);
	assert_string_equal(c.access_key, "AKIDENV");
	assert_string_equal(c.session_token, "tenv");
	aws_creds_release(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	char path[] = "/tmp/trove-aws-creds-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
	close(fd);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(aws_creds_load(&c, &why), 0);
	assert_string_equal(c.access_key, "AKIDCI");
	aws_creds_release(&c);
	unlink(path);
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_PROFILE");
	buf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sigv4_suite_vectors),
	    cmocka_unit_test(test_get_caller_identity_as_botocore_signs_it),
	    cmocka_unit_test(test_login_fields),
	    cmocka_unit_test(test_credentials_file_and_environment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
