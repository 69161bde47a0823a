/* Media types by file extension: Debian's /etc/mime.types (package media-types) read once
 * into a sorted table, and a built-in table of the common web types for what the file lacks
 * (or when it is missing). The table points into the file's text, kept whole; lookups are a
 * binary search on the lower-cased extension. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files_internal.h"

#define MAX_FILE (4 << 20)

static const struct {
    const char *ext, *type;
} builtin[] = {
    { "css", "text/css" },        { "csv", "text/csv" },          { "gif", "image/gif" },
    { "gz", "application/gzip" }, { "htm", "text/html" },         { "html", "text/html" },
    { "ico", "image/x-icon" },    { "jpeg", "image/jpeg" },       { "jpg", "image/jpeg" },
    { "js", "text/javascript" },  { "json", "application/json" }, { "md", "text/markdown" },
    { "mjs", "text/javascript" }, { "mp3", "audio/mpeg" },        { "mp4", "video/mp4" },
    { "ogg", "audio/ogg" },       { "otf", "font/otf" },          { "pdf", "application/pdf" },
    { "png", "image/png" },       { "svg", "image/svg+xml" },     { "tar", "application/x-tar" },
    { "ttf", "font/ttf" },        { "txt", "text/plain" },        { "wasm", "application/wasm" },
    { "wav", "audio/wav" },       { "webm", "video/webm" },       { "webp", "image/webp" },
    { "woff", "font/woff" },      { "woff2", "font/woff2" },      { "xml", "application/xml" },
    { "zip", "application/zip" },
};

static int by_ext(const void *a, const void *b)
{
    return strcmp(((const struct sockit__mime_entry *)a)->ext,
                  ((const struct sockit__mime_entry *)b)->ext);
}

/* By extension, then by where the entry was read: the first one of an extension wins. */
static int by_ext_then_order(const void *a, const void *b)
{
    const struct sockit__mime_entry *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);

    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int add(struct sockit__mime *m, const char *ext, const char *type)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        struct sockit__mime_entry *e = realloc(m->entries, cap * sizeof(*e));
        if (!e)
            return -ENOMEM;
        m->entries = e;
        m->cap = cap;
    }
    m->entries[m->n] = (struct sockit__mime_entry){ ext, type, (unsigned)m->n };
    m->n++;
    return 0;
}

/* The whole file at PATH, NUL-terminated, in *TEXT. */
static int read_all(const char *path, char **text)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
    ssize_t n = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || st.st_size > MAX_FILE)
        err = st.st_size > MAX_FILE ? -EFBIG : -errno;
    else if (!(*text = malloc((size_t)st.st_size + 1)))
        err = -ENOMEM;
    else if ((n = read(fd, *text, (size_t)st.st_size)) < 0)
        err = -errno;
    if (!err)
        (*text)[n] = '\0';
    close(fd);
    return err;
}

/* Each line "type ext ext ..." ('#' starts a comment) into entries pointing into TEXT. */
static int parse(struct sockit__mime *m, char *text)
{
    char *line_save = NULL;

    for (char *line = strtok_r(text, "\n", &line_save); line;
         line = strtok_r(NULL, "\n", &line_save)) {
        char *save = NULL, *type = strtok_r(line, " \t\r", &save), *ext;
        if (!type || type[0] == '#')
            continue;
        while ((ext = strtok_r(NULL, " \t\r", &save))) {
            for (char *p = ext; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p | 0x20 : *p);
            if (add(m, ext, type) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* Sort, and keep the first entry of each extension (the file's first, then the built-ins). */
static void finish(struct sockit__mime *m)
{
    size_t out = 0;

    qsort(m->entries, m->n, sizeof(*m->entries), by_ext_then_order);
    for (size_t i = 0; i < m->n; i++)
        if (out == 0 || strcmp(m->entries[out - 1].ext, m->entries[i].ext) != 0)
            m->entries[out++] = m->entries[i];
    m->n = out;
}

int sockit__mime_load(struct sockit__mime *m, const char *path)
{
    int err;

    *m = (struct sockit__mime){ 0 };
    err = read_all(path ? path : "/etc/mime.types", &m->text);
    if (err && (path || err != -ENOENT))
        return err; /* a file the caller named, or one that is there, must read */
    if (m->text && (err = parse(m, m->text)) < 0) {
        sockit__mime_free(m);
        return err;
    }
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        if (add(m, builtin[i].ext, builtin[i].type) < 0) {
            sockit__mime_free(m);
            return -ENOMEM;
        }
    }
    finish(m);
    return 0;
}

const char *sockit__mime_type(const struct sockit__mime *m, const char *ext)
{
    char low[32];
    size_t n = strlen(ext);

    if (n == 0 || n >= sizeof(low))
        return NULL;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)(ext[i] >= 'A' && ext[i] <= 'Z' ? ext[i] | 0x20 : ext[i]);
    struct sockit__mime_entry key = { low, NULL, 0 };
    const struct sockit__mime_entry *e = bsearch(&key, m->entries, m->n, sizeof(key), by_ext);
    return e ? e->type : NULL;
}

void sockit__mime_free(struct sockit__mime *m)
{
    free(m->entries);
    free(m->text);
    *m = (struct sockit__mime){ 0 };
}
