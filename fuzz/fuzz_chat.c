/* libFuzzer target for the chat's input (src/lib/proto/chat): what a client may send. On any
 * input:
 *
 *   - the message parser accepts or refuses without crashing, and what it accepts is a join
 *     or a say whose value has the length it claims;
 *   - a value it accepts, written back by the JSON writer inside a message object, parses
 *     again to the same bytes (what the server sends, a client reads as sent);
 *   - the nickname and room-name checks agree with their rules on any bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/lib/proto/chat/chat_internal.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_chat: %s\n", what);
    abort();
}

/* The value written as {"type":"say","text":VALUE} parses back to VALUE. */
static void round_trip(const struct chat_msg *m)
{
    struct chat_json j = { 0 };
    struct chat_msg back = { 0 };
    const char *why;

    chat_json_lit(&j, "{\"type\":\"say\",\"text\":");
    chat_json_str(&j, m->value, m->len);
    chat_json_lit(&j, "}");
    if (j.err)
        fail("the writer failed");
    if (chat_msg_parse((const uint8_t *)j.p, j.len, &back, &why) < 0)
        fail("the parser refused what the writer wrote");
    if (back.type != CHAT_SAY || back.len != m->len || memcmp(back.value, m->value, m->len) != 0)
        fail("a value did not survive the round trip");
    chat_msg_free(&back);
    chat_json_free(&j);
}

static void names(const uint8_t *data, size_t size)
{
    bool nick = chat_nick_valid((const char *)data, size);
    bool room = chat_room_name_valid((const char *)data, size);

    if (nick && (size == 0 || size > SOCKIT_CHAT_NICK_MAX || data[0] == ' '))
        fail("a bad nickname passed");
    if (room && (size == 0 || size > SOCKIT_CHAT_ROOM_MAX || data[0] != '/' ||
                 memchr(data, ' ', size) || memchr(data, '\0', size)))
        fail("a bad room name passed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct chat_msg m = { 0 };
    const char *why = NULL;

    names(data, size);
    if (chat_msg_parse(data, size, &m, &why) < 0) {
        if (!why || !*why)
            fail("a refusal without a reason");
        return 0;
    }
    if (m.type != CHAT_JOIN && m.type != CHAT_SAY)
        fail("an unknown type accepted");
    if (strlen(m.value) > m.len)
        fail("a value longer than its length");
    round_trip(&m);
    chat_msg_free(&m);
    return 0;
}
