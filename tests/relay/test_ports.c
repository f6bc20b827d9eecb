/* relay/ports.c: relay port pool, EVEN-PORT and RESERVATION-TOKEN holds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "relay/ports.h"

#define LO 41000
#define HI 41007

static struct tw_addr lo(void)
{
	struct tw_addr a;

	tw_addr_parse_ip("127.0.0.1", &a);
	return a;
}

static void test_even_and_range(void **state)
{
	struct ports *p = ports_new(LO, HI, 12345);
	struct tw_addr ip = lo(), b;
	uint64_t tok = 0;
	int fd[8];

	(void)state;
	for (int i = 0; i < 4; i++) {
		fd[i] = ports_open(p, &ip, true, false, &tok, &b, 0);
		assert_true(fd[i] >= 0);
		assert_int_equal(b.port % 2, 0);
		assert_true(b.port >= LO && b.port <= HI);
	}
	/* every even port of 41000..41007 is taken now */
	assert_int_equal(ports_open(p, &ip, true, false, &tok, &b, 0), -EADDRNOTAVAIL);
	for (int i = 4; i < 8; i++) {
		fd[i] = ports_open(p, &ip, false, false, &tok, &b, 0);
		assert_true(fd[i] >= 0);
		assert_int_equal(b.port % 2, 1);
	}
	assert_int_equal(ports_open(p, &ip, false, false, &tok, &b, 0), -EADDRNOTAVAIL);
	assert_int_equal(ports_in_use(p, TW_AF_INET), 8);
	for (int i = 0; i < 8; i++)
		close(fd[i]);
	ports_free(p);
}

static void test_reservation(void **state)
{
	struct ports *p = ports_new(LO, HI, 1);
	struct tw_addr ip = lo(), b, held;
	uint64_t tok = 0;
	int fd, fd2;

	(void)state;
	fd = ports_open(p, &ip, true, true, &tok, &b, 1000);
	assert_true(fd >= 0);
	assert_int_not_equal(tok, 0);
	assert_int_equal(b.port % 2, 0);
	assert_int_equal(ports_in_use(p, TW_AF_INET), 2);
	fd2 = ports_take(p, tok, &held);
	assert_true(fd2 >= 0);
	assert_int_equal(held.port, b.port + 1);
	/* a token works once */
	assert_int_equal(ports_take(p, tok, &held), -ENOENT);
	close(fd2);
	ports_release(p, &held);
	close(fd);
	ports_release(p, &b);
	assert_int_equal(ports_in_use(p, TW_AF_INET), 0);

	/* an unused reservation is closed after 30 s */
	fd = ports_open(p, &ip, true, true, &tok, &b, 1000);
	assert_true(fd >= 0);
	ports_reap(p, 1000 + PORTS_RESERVE_MS - 1);
	assert_int_equal(ports_in_use(p, TW_AF_INET), 2);
	ports_reap(p, 1000 + PORTS_RESERVE_MS);
	assert_int_equal(ports_in_use(p, TW_AF_INET), 1);
	assert_int_equal(ports_take(p, tok, &held), -ENOENT);
	close(fd);
	ports_free(p);
}

static void test_bind_exact(void **state)
{
	struct ports *p = ports_new(LO, HI, 1);
	struct tw_addr a = lo();
	int fd;

	(void)state;
	a.port = LO + 3;
	fd = ports_bind(p, &a);
	assert_true(fd >= 0);
	assert_int_equal(ports_bind(p, &a), -EADDRINUSE);
	close(fd);
	ports_release(p, &a);
	fd = ports_bind(p, &a);
	assert_true(fd >= 0);
	close(fd);
	ports_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_even_and_range),
	        cmocka_unit_test(test_reservation),
	        cmocka_unit_test(test_bind_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
