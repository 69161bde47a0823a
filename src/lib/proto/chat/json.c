/* The chat's JSON: what clients send is parsed by jansson (strict RFC 8259: no duplicate
 * keys, no NUL in strings, UTF-8 checked), what the server sends is written here, each
 * message once for the whole room. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_internal.h"

/* ---- writing ---------------------------------------------------------------------------- */

static bool grow(struct chat_json *j, size_t more)
{
    if (j->err)
        return false;
    if (j->cap - j->len >= more)
        return true;
    size_t cap = j->cap ? j->cap : 256;
    while (cap - j->len < more)
        cap *= 2;
    char *p = realloc(j->p, cap);
    if (!p) {
        j->err = -ENOMEM;
        return false;
    }
    j->p = p;
    j->cap = cap;
    return true;
}

void chat_json_raw(struct chat_json *j, const char *s, size_t len)
{
    if (grow(j, len)) {
        memcpy(j->p + j->len, s, len);
        j->len += len;
    }
}

void chat_json_lit(struct chat_json *j, const char *s)
{
    chat_json_raw(j, s, strlen(s));
}

/* Escape what JSON requires (quote, backslash, controls) and U+2028/2029 for old parsers;
 * the rest of the UTF-8 passes as is. */
void chat_json_str(struct chat_json *j, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    if (!grow(j, len * 6 + 2))
        return;
    char *o = j->p + j->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    j->len = (size_t)(o - j->p);
}

void chat_json_u64(struct chat_json *j, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);

    chat_json_raw(j, buf, (size_t)n);
}

void chat_json_free(struct chat_json *j)
{
    free(j->p);
    *j = (struct chat_json){ 0 };
}

/* ---- reading ---------------------------------------------------------------------------- */

int chat_msg_parse(const uint8_t *data, size_t len, struct chat_msg *msg, const char **why)
{
    json_error_t e;
    json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &e);
    int rc = -1;

    *why = "not a JSON object";
    if (!root || !json_is_object(root))
        goto out;
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *key = NULL;
    *why = "\"type\" must be \"join\" or \"say\"";
    if (type && strcmp(type, "join") == 0) {
        msg->type = CHAT_JOIN;
        key = "nick";
    } else if (type && strcmp(type, "say") == 0) {
        msg->type = CHAT_SAY;
        key = "text";
    } else {
        goto out;
    }
    json_t *v = json_object_get(root, key);
    *why = msg->type == CHAT_JOIN ? "\"nick\" must be a string" : "\"text\" must be a string";
    if (!json_is_string(v) || json_object_size(root) != 2)
        goto out;
    msg->len = json_string_length(v);
    msg->value = malloc(msg->len + 1);
    *why = "out of memory";
    if (!msg->value)
        goto out;
    memcpy(msg->value, json_string_value(v), msg->len + 1);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void chat_msg_free(struct chat_msg *msg)
{
    free(msg->value);
    msg->value = NULL;
}

bool chat_nick_valid(const char *nick, size_t len)
{
    if (len == 0 || len > SOCKIT_CHAT_NICK_MAX || nick[0] == ' ' || nick[len - 1] == ' ')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)nick[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

bool chat_room_name_valid(const char *path, size_t len)
{
    if (len == 0 || len > SOCKIT_CHAT_ROOM_MAX || path[0] != '/')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = path[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/'))
            return false;
    }
    return true;
}
