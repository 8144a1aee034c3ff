/* tests/unit/log.c - log line formatting: key=value, quoting and escaping, the
 * journal's priority prefix, level filtering and truncation. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static char line[8192];

/* The part after "pid=N ": the same whatever the process. */
static const char *
tail(void)
{
	const char *p = strstr(line, " msg=");

	ck_assert_ptr_nonnull(p);
	return p + 1;
}

START_TEST(plain_line)
{
	log_init("worker", LOG_L_INFO);
	log_set_journal(0);
	log_format(line, sizeof(line), LOG_L_INFO, "task completed",
	    "queue", "emails", "task", "emails:42", (char *)0);
	ck_assert_msg(strncmp(line, "ts=", 3) == 0, "%s", line);
	ck_assert_ptr_nonnull(strstr(line, "Z level=info proc=worker pid="));
	ck_assert_str_eq(tail(), "msg=\"task completed\" queue=emails "
	    "task=emails:42");
}
END_TEST

START_TEST(escaping)
{
	log_init("codeq", LOG_L_DEBUG);
	log_set_journal(0);
	log_format(line, sizeof(line), LOG_L_ERROR, "x", "empty", "",
	    "null", (char *)0, "quote", "say \"hi\"", "nl", "a\nb\tc\r",
	    "eq", "k=v", "bs", "a\\b", "ctl", "\x01\x7f", "utf8", "caf\xc3\xa9",
	    (char *)0);
	ck_assert_str_eq(tail(), "msg=x empty=\"\" null=\"\" "
	    "quote=\"say \\\"hi\\\"\" nl=\"a\\nb\\tc\\r\" eq=\"k=v\" "
	    "bs=\"a\\\\b\" ctl=\"\\x01\\x7f\" utf8=caf\xc3\xa9");
	log_format(line, sizeof(line), LOG_L_INFO, "m", "bad key", "v",
	    (char *)0);
	ck_assert_str_eq(tail(), "msg=m bad_key=v");
}
END_TEST

START_TEST(journal_prefix)
{
	log_init("dispatcher", LOG_L_DEBUG);
	log_set_journal(1);
	log_format(line, sizeof(line), LOG_L_ERROR, "boom", (char *)0);
	ck_assert_msg(strncmp(line, "<3>level=error proc=dispatcher pid=", 35)
	    == 0, "%s", line);
	log_format(line, sizeof(line), LOG_L_WARNING, "w", (char *)0);
	ck_assert(strncmp(line, "<4>level=warning ", 17) == 0);
	log_format(line, sizeof(line), LOG_L_NOTICE, "n", (char *)0);
	ck_assert(strncmp(line, "<5>level=notice ", 16) == 0);
	log_format(line, sizeof(line), LOG_L_INFO, "i", (char *)0);
	ck_assert(strncmp(line, "<6>level=info ", 14) == 0);
	log_format(line, sizeof(line), LOG_L_DEBUG, "d", (char *)0);
	ck_assert(strncmp(line, "<7>level=debug ", 15) == 0);
	log_set_journal(0);
}
END_TEST

START_TEST(truncation)
{
	char small[64], big[200];

	log_set_journal(1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_format(small, sizeof(small), LOG_L_INFO, "m", "k", big, (char *)0);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_str_eq(small + sizeof(small) - 4, "...");
	log_set_journal(0);
}
END_TEST

START_TEST(levels_and_output)
{
	char path[] = "/tmp/unitlog.XXXXXX";
	int fd = mkstemp(path);
	char buf[4096];
	ssize_t n;
	enum log_level l;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	log_init("notifier", LOG_L_NOTICE);
	log_set_journal(1);
	log_set_fd(fd);
	ck_assert_int_eq(log_get_level(), LOG_L_NOTICE);
	log_info("hidden", "a", "1");
	log_notice("shown", "a", "2");
	log_error("also shown");
	log_set_fd(2);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_null(strstr(buf, "hidden"));
	ck_assert_ptr_nonnull(strstr(buf, "<5>level=notice proc=notifier"));
	ck_assert_ptr_nonnull(strstr(buf, "msg=shown a=2\n<3>level=error"));
	ck_assert_ptr_nonnull(strstr(buf, "msg=\"also shown\"\n"));
	close(fd);

	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_L_DEBUG);
	ck_assert_int_eq(log_level_parse("WARNING", &l), 0);
	ck_assert_int_eq(l, LOG_L_WARNING);
	ck_assert_int_eq(log_level_parse("warn", &l), 0);
	ck_assert_int_eq(l, LOG_L_WARNING);
	ck_assert_int_eq(log_level_parse("error", &l), 0);
	ck_assert_int_eq(l, LOG_L_ERROR);
	ck_assert_int_eq(log_level_parse("verbose", &l), -1);
	log_set_journal(0);
}
END_TEST

START_TEST(journal_detection)
{
	struct stat st;
	char js[64];

	/* stderr is not what JOURNAL_STREAM names: plain lines. */
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init("codeq", LOG_L_INFO);
	log_format(line, sizeof(line), LOG_L_INFO, "m", (char *)0);
	ck_assert(strncmp(line, "ts=", 3) == 0);
	/* It names stderr's device and inode, as systemd sets it: "<N>". */
	ck_assert_int_eq(fstat(2, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init("codeq", LOG_L_INFO);
	log_format(line, sizeof(line), LOG_L_NOTICE, "m", (char *)0);
	ck_assert_msg(strncmp(line, "<5>level=notice", 15) == 0, "%s", line);
	unsetenv("JOURNAL_STREAM");
	log_set_journal(0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("format");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, plain_line);
	tcase_add_test(tc, escaping);
	tcase_add_test(tc, journal_prefix);
	tcase_add_test(tc, truncation);
	tcase_add_test(tc, levels_and_output);
	tcase_add_test(tc, journal_detection);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
