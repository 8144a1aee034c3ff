/*
 * webhooks_unit.c - unit tests of the self-contained webhook parts:
 * signatures against published vectors, URL validation, the address
 * policy and the HTTP outcome classification.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <check.h>

#include "http.h"
#include "sign.h"
#include "urlpolicy.h"

/* The Standard Webhooks specification's example. */
#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS 1614265330
#define STD_BODY "{\"test\": 2432232314}"

START_TEST(sign_standard_vector)
{
	struct sign_key k;
	char err[128], sig[SIGN_STD_MAX];

	ck_assert_int_eq(sign_key_parse(STD_SECRET, &k, err, sizeof(err)), 0);
	ck_assert_int_eq(k.key_len, 24);
	ck_assert_int_eq(sign_standard(&k, STD_ID, STD_TS, STD_BODY,
	    strlen(STD_BODY), sig), 0);
	ck_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
END_TEST

START_TEST(sign_codeq_vector)
{
	struct sign_key k;
	char err[128], sig[SIGN_HEX_MAX];

	/* Computed independently: hmac.new(secret, ts "." body, sha256). */
	ck_assert_int_eq(sign_key_parse(STD_SECRET "\n", &k, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(sign_codeq(&k, STD_TS, STD_BODY, strlen(STD_BODY),
	    sig), 0);
	ck_assert_str_eq(sig, "2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1"
	    "b1d49d4369ad2530f8964");
}
END_TEST

START_TEST(sign_key_errors)
{
	struct sign_key k;
	char err[128];

	ck_assert_int_eq(sign_key_parse("", &k, err, sizeof(err)), -1);
	ck_assert_int_eq(sign_key_parse("  \n", &k, err, sizeof(err)), -1);
	ck_assert_int_eq(sign_key_parse("whsec_!!!!", &k, err, sizeof(err)),
	    -1);
	ck_assert_int_eq(sign_key_parse("whsec_abc", &k, err, sizeof(err)),
	    -1);
	/* No prefix: raw bytes for both schemes. */
	ck_assert_int_eq(sign_key_parse("plain-secret", &k, err, sizeof(err)),
	    0);
	ck_assert_int_eq(k.key_len, 12);
	ck_assert_int_eq(memcmp(k.key, "plain-secret", 12), 0);
}
END_TEST

START_TEST(base64_roundtrip)
{
	unsigned char in[7] = "abcdefg", out[16];
	char enc[16];

	for (size_t n = 1; n <= sizeof(in); n++) {
		ck_assert_int_eq(sign_base64_encode(in, n, enc, sizeof(enc)), 0);
		ck_assert_int_eq(sign_base64_decode(enc, strlen(enc), out,
		    sizeof(out)), (int)n);
		ck_assert_int_eq(memcmp(in, out, n), 0);
	}
}
END_TEST

START_TEST(url_validation)
{
	char err[256], big[URLPOLICY_URL_MAX + 64];

	ck_assert_int_eq(urlpolicy_validate("http://example.com/hook", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(urlpolicy_validate("https://127.0.0.1:8080/x?y=1",
	    err, sizeof(err)), 0);
	ck_assert_int_eq(urlpolicy_validate("https://[::1]:8080/", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(urlpolicy_validate("ftp://example.com/", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "scheme"));
	ck_assert_int_eq(urlpolicy_validate("example.com/hook", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(urlpolicy_validate("http://", err, sizeof(err)), -1);
	ck_assert_int_eq(urlpolicy_validate("http:///path", err, sizeof(err)),
	    -1);
	ck_assert_int_eq(urlpolicy_validate("http://a b/", err, sizeof(err)),
	    -1);
	ck_assert_int_eq(urlpolicy_validate("", err, sizeof(err)), -1);
	ck_assert_int_eq(urlpolicy_validate(NULL, err, sizeof(err)), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "http://x/", 9);
	ck_assert_int_eq(urlpolicy_validate(big, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer"));
}
END_TEST

static enum urlpolicy_class
cls(const char *addr)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return urlpolicy_classify((struct sockaddr *)&s4, sizeof(s4));
	}
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return urlpolicy_classify((struct sockaddr *)&s6, sizeof(s6));
}

START_TEST(address_classes)
{
	ck_assert_int_eq(cls("127.0.0.1"), URLPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("127.255.0.9"), URLPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("10.1.2.3"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("172.16.0.1"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("172.31.255.255"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("172.32.0.1"), URLPOLICY_PUBLIC);
	ck_assert_int_eq(cls("192.168.1.1"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("169.254.169.254"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("100.64.0.1"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("100.128.0.1"), URLPOLICY_PUBLIC);
	ck_assert_int_eq(cls("8.8.8.8"), URLPOLICY_PUBLIC);
	ck_assert_int_eq(cls("0.0.0.0"), URLPOLICY_NEVER);
	ck_assert_int_eq(cls("224.0.0.1"), URLPOLICY_NEVER);
	ck_assert_int_eq(cls("255.255.255.255"), URLPOLICY_NEVER);
	ck_assert_int_eq(cls("::1"), URLPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("::"), URLPOLICY_NEVER);
	ck_assert_int_eq(cls("::ffff:127.0.0.1"), URLPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("::ffff:10.0.0.1"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("fd00::1"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("fe80::1"), URLPOLICY_PRIVATE);
	ck_assert_int_eq(cls("ff02::1"), URLPOLICY_NEVER);
	ck_assert_int_eq(cls("2001:4860:4860::8888"), URLPOLICY_PUBLIC);
}
END_TEST

START_TEST(address_policy)
{
	struct sockaddr_in s4;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	ck_assert_int_eq(urlpolicy_addr_allowed((void *)&s4, sizeof(s4), 0, 1),
	    0);
	ck_assert_int_eq(urlpolicy_addr_allowed((void *)&s4, sizeof(s4), 1, 0),
	    1);
	inet_pton(AF_INET, "192.168.0.1", &s4.sin_addr);
	ck_assert_int_eq(urlpolicy_addr_allowed((void *)&s4, sizeof(s4), 1, 0),
	    0);
	ck_assert_int_eq(urlpolicy_addr_allowed((void *)&s4, sizeof(s4), 0, 1),
	    1);
	inet_pton(AF_INET, "0.0.0.0", &s4.sin_addr);
	ck_assert_int_eq(urlpolicy_addr_allowed((void *)&s4, sizeof(s4), 1, 1),
	    0);
}
END_TEST

static enum http_verdict
verdict(int code, long status, int refused)
{
	struct http_result r;

	memset(&r, 0, sizeof(r));
	r.curl_code = code;
	r.status = status;
	r.refused = refused;
	return http_classify(&r);
}

START_TEST(http_verdicts)
{
	ck_assert_int_eq(verdict(0, 200, 0), HTTP_DELIVERED);
	ck_assert_int_eq(verdict(0, 204, 0), HTTP_DELIVERED);
	ck_assert_int_eq(verdict(0, 500, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 503, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 408, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 429, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 404, 0), HTTP_PERMANENT);
	ck_assert_int_eq(verdict(0, 400, 0), HTTP_PERMANENT);
	ck_assert_int_eq(verdict(0, 301, 0), HTTP_PERMANENT);
	ck_assert_int_eq(verdict(CURLE_OPERATION_TIMEDOUT, 0, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(CURLE_COULDNT_CONNECT, 0, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(CURLE_COULDNT_CONNECT, 0, 1), HTTP_PERMANENT);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = tcase_create("unit");

	tcase_add_test(tc, sign_standard_vector);
	tcase_add_test(tc, sign_codeq_vector);
	tcase_add_test(tc, sign_key_errors);
	tcase_add_test(tc, base64_roundtrip);
	tcase_add_test(tc, url_validation);
	tcase_add_test(tc, address_classes);
	tcase_add_test(tc, address_policy);
	tcase_add_test(tc, http_verdicts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
