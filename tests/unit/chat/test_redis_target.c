/* Where the chat's rooms are shared: redis:// and unix: URLs read strictly (defaults, IPv6 in
 * brackets, the database, every malformed form refused with a reason), and the blocking check
 * naming what failed when nothing listens. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "sockit/chat.h"

Test(chat_redis_url, the_forms_a_user_writes_are_read)
{
    struct sockit_chat_redis r;
    const char *why;

    cr_assert_eq(sockit_chat_redis_parse("redis://cache.local", &r, &why), 0, "%s", why);
    cr_expect(r.ep.transport == SOCKIT_TCP && strcmp(r.ep.host, "cache.local") == 0 &&
              r.ep.port == 6379 && r.db == 0 && r.password == NULL);
    cr_assert_eq(sockit_chat_redis_parse("redis://127.0.0.1:7000/3", &r, &why), 0, "%s", why);
    cr_expect(strcmp(r.ep.host, "127.0.0.1") == 0 && r.ep.port == 7000 && r.db == 3);
    cr_assert_eq(sockit_chat_redis_parse("redis://[::1]:7001/15", &r, &why), 0, "%s", why);
    cr_expect(strcmp(r.ep.host, "::1") == 0 && r.ep.port == 7001 && r.db == 15);
    cr_assert_eq(sockit_chat_redis_parse("redis://[::1]", &r, &why), 0, "%s", why);
    cr_expect(r.ep.port == 6379);
    cr_assert_eq(sockit_chat_redis_parse("unix:/run/redis/redis.sock", &r, &why), 0, "%s", why);
    cr_expect(r.ep.transport == SOCKIT_UNIX && strcmp(r.ep.path, "/run/redis/redis.sock") == 0);
    cr_assert_eq(sockit_chat_redis_parse("unix:/tmp/r.sock?db=2", &r, &why), 0, "%s", why);
    cr_expect(strcmp(r.ep.path, "/tmp/r.sock") == 0 && r.db == 2);
}

Test(chat_redis_url, malformed_urls_are_refused_with_a_reason)
{
    static const char *const bad[] = {
        "",
        "redis:/x",
        "http://h:6379",
        "redis://",
        "redis://h:",
        "redis://h:0",
        "redis://h:65536",
        "redis://h:6379/",
        "redis://h/x",
        "redis://h/65536",
        "redis://::1",
        "redis://[::1",
        "unix:",
        "unix:relative",
        "unix:/s?db=",
        "unix:/s?x=1",
        "unix:/s?db=70000",
    };
    struct sockit_chat_redis r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        cr_expect_eq(sockit_chat_redis_parse(bad[i], &r, &why), -EINVAL, "'%s' was read", bad[i]);
        cr_expect(why && *why, "'%s': no reason", bad[i]);
    }
}

Test(chat_redis_url, the_check_names_what_failed)
{
    struct sockit_chat_redis r;
    const char *why;
    char msg[256];

    cr_assert_eq(sockit_chat_redis_parse("unix:/nonexistent/redis.sock", &r, &why), 0);
    cr_expect_lt(sockit_chat_redis_check(&r, 500, msg, sizeof(msg)), 0);
    cr_expect(strstr(msg, "No such file"), "%s", msg);
}
