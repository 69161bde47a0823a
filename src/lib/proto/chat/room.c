/* Rooms: a hash table of names, each with its members (an array: a broadcast walks it) and
 * the ring of its last messages. A room exists while someone is in it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chat_internal.h"

static size_t bucket_of(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 16777619u;
    return h % CHAT_BUCKETS;
}

static size_t history_cap(const struct sockit_chat *chat)
{
    return chat->o.history ? chat->o.history : 50;
}

struct chat_room *chat_room_get(struct sockit_chat *chat, const char *name)
{
    size_t b = bucket_of(name);
    struct chat_room *found = chat_room_lookup(chat, name);

    if (found)
        return found;
    if (chat->nrooms >= CHAT_MAX_ROOMS)
        return NULL;
    struct chat_room *r = calloc(1, sizeof(*r));
    size_t cap = history_cap(chat);
    if (r) {
        r->history = calloc(cap, sizeof(*r->history));
        r->history_len = calloc(cap, sizeof(*r->history_len));
    }
    if (!r || !r->history || !r->history_len) {
        if (r) {
            free(r->history);
            free(r->history_len);
        }
        free(r);
        return NULL;
    }
    strcpy(r->name, name); /* checked by chat_room_name_valid: fits */
    r->next = chat->buckets[b];
    chat->buckets[b] = r;
    chat->nrooms++;
    atomic_store(&chat->rooms, chat->nrooms);
    chat_bus_room_opened(chat, r);
    return r;
}

struct chat_room *chat_room_lookup(struct sockit_chat *chat, const char *name)
{
    for (struct chat_room *r = chat->buckets[bucket_of(name)]; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

void chat_room_each(struct sockit_chat *chat,
                    void (*f)(struct sockit_chat *chat, struct chat_room *room, void *ud), void *ud)
{
    for (size_t b = 0; b < CHAT_BUCKETS; b++)
        for (struct chat_room *r = chat->buckets[b]; r; r = r->next)
            f(chat, r, ud);
}

void chat_room_free(struct sockit_chat *chat, struct chat_room *room)
{
    struct chat_room **p = &chat->buckets[bucket_of(room->name)];

    chat_bus_room_closed(chat, room);
    while (*p != room)
        p = &(*p)->next;
    *p = room->next;
    for (size_t i = 0; i < history_cap(chat); i++)
        free(room->history[i]);
    free(room->history);
    free(room->history_len);
    free(room->members);
    free(room);
    chat->nrooms--;
    atomic_store(&chat->rooms, chat->nrooms);
}

int chat_room_add(struct chat_room *room, struct chat_member *m)
{
    if (room->n == room->cap) {
        size_t cap = room->cap ? room->cap * 2 : 8;
        struct chat_member **p = realloc(room->members, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        room->members = p;
        room->cap = cap;
    }
    m->room = room;
    m->index = room->n;
    room->members[room->n++] = m;
    return 0;
}

void chat_room_remove(struct sockit_chat *chat, struct chat_member *m)
{
    struct chat_room *room = m->room;

    if (!room)
        return;
    struct chat_member *last = room->members[--room->n];
    room->members[m->index] = last; /* swap-remove: order does not matter */
    last->index = m->index;
    m->room = NULL;
    if (room->n == 0)
        chat_room_free(chat, room);
}

struct chat_member *chat_room_find(const struct chat_room *room, const char *nick)
{
    for (size_t i = 0; i < room->n; i++) {
        struct chat_member *m = room->members[i];
        if ((m->joined || m->join_req) && strcmp(m->nick, nick) == 0)
            return m;
    }
    return NULL;
}

void chat_room_remember(struct sockit_chat *chat, struct chat_room *room, const char *json,
                        size_t len)
{
    size_t cap = history_cap(chat);
    size_t slot = (room->head + room->count) % cap;
    char *copy = malloc(len);

    if (!copy)
        return; /* history is a courtesy: a message that cannot be kept is only not kept */
    memcpy(copy, json, len);
    if (room->count == cap) { /* full: the oldest goes */
        slot = room->head;
        room->head = (room->head + 1) % cap;
        free(room->history[slot]);
    } else {
        room->count++;
    }
    room->history[slot] = copy;
    room->history_len[slot] = len;
}
