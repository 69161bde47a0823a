/* The error-code layout of sockit/error.h: one reserved range per module, values that never
 * move, and a text from sockit_strerror for every code and for none of the gaps. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "sockit/error.h"

Test(error, codes_keep_the_values_they_had_before_the_ranges)
{
    cr_expect_eq(SOCKIT_E_FIRST, 10000);
    cr_expect_eq(SOCKIT_EEMPTY, 10000);
    cr_expect_eq(SOCKIT_EPORT, 10005);
    cr_expect_eq(SOCKIT_ETRUNC, 10017);
    cr_expect_eq(SOCKIT_ETYPE, 10019);
    cr_expect_eq(SOCKIT_E_LAST, SOCKIT_E_CORE_END, "E_LAST still ends the core codes");
}

Test(error, each_module_range_follows_the_last_and_none_overflows)
{
    static const int bases[] = {
        SOCKIT_E_CORE, SOCKIT_E_LOOP,   SOCKIT_E_SERVER,  SOCKIT_E_HTTP, SOCKIT_E_WS,
        SOCKIT_E_GAME, SOCKIT_E_IMPAIR, SOCKIT_E_CAPTURE, SOCKIT_E_END,
    };

    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
        cr_expect_eq(bases[i], SOCKIT_E_FIRST + (int)i * SOCKIT_E_RANGE, "range %zu starts at %d",
                     i, bases[i]);
    cr_expect_leq(SOCKIT_E_CORE_END, SOCKIT_E_LOOP, "core's codes stay in core's range");
}

Test(error, every_core_code_has_a_text_and_the_gaps_have_none)
{
    for (int c = SOCKIT_E_CORE; c < SOCKIT_E_CORE_END; c++)
        cr_expect_str_neq(sockit_strerror(-c), "unknown error", "code -%d has no text", c);
    cr_expect_str_eq(sockit_strerror(-SOCKIT_E_CORE_END), "unknown error",
                     "the first free core code");
    cr_expect_str_eq(sockit_strerror(-SOCKIT_E_END), "unknown error", "past every range");
    cr_expect_str_eq(sockit_strerror(-ECONNREFUSED), "Connection refused", "errno codes");
}

Test(error, every_server_code_has_a_text_in_the_server_range)
{
    cr_expect_eq(SOCKIT_EFULL, SOCKIT_E_SERVER, "the server's codes start at its base");
    for (int c = SOCKIT_E_SERVER; c < SOCKIT_E_SERVER_END; c++)
        cr_expect_str_neq(sockit_strerror(-c), "unknown error", "code -%d has no text", c);
    cr_expect_str_eq(sockit_strerror(-SOCKIT_E_SERVER_END), "unknown error",
                     "the first free server code");
    cr_expect_leq(SOCKIT_E_SERVER_END, SOCKIT_E_HTTP, "server's codes stay in server's range");
}
