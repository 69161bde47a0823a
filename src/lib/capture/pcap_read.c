/* Reading pcap and pcapng files through libpcap, with timestamps in nanoseconds whatever the
 * file's precision, our error codes for files that cannot be opened or are damaged, and a
 * filter (sockit_bpf_compile's program) applied to each record. */
#include <errno.h>
#include <linux/filter.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture_internal.h"
#include "sockit/error.h"
#include "sockit/pcap.h"

struct sockit_pcap_reader {
    pcap_t *pcap;
    struct sock_fprog filter; /* no filter: len 0 */
    int err;                  /* a damaged file stays damaged: every later read returns it */
};

static int say(char *err, size_t errsize, int code, const char *text)
{
    if (err && errsize)
        snprintf(err, errsize, "%s", text);
    return code;
}

int sockit__pcap_reader_from_file(struct sockit_pcap_reader **out, FILE *fp, char *err,
                                  size_t errsize)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct sockit_pcap_reader *r;

    *out = NULL;
    if (!(r = calloc(1, sizeof(*r)))) {
        if (fp != stdin)
            fclose(fp);
        return -ENOMEM;
    }
    r->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!r->pcap) {
        free(r);
        if (fp != stdin) /* libpcap leaves FP to us on failure, and never closes stdin */
            fclose(fp);
        return say(err, errsize, -SOCKIT_ECAP_FILE, ebuf);
    }
    *out = r;
    return 0;
}

int sockit_pcap_reader_open(struct sockit_pcap_reader **out, const char *path, char *err,
                            size_t errsize)
{
    bool std = strcmp(path, "-") == 0;
    FILE *fp = std ? stdin : fopen(path, "rbe"); /* e: O_CLOEXEC */
    struct stat st;

    *out = NULL;
    if (!fp)
        return say(err, errsize, -errno, sockit_strerror(-errno));
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!std)
            fclose(fp);
        return say(err, errsize, -EISDIR, sockit_strerror(-EISDIR));
    }
    return sockit__pcap_reader_from_file(out, fp, err, errsize);
}

int sockit_pcap_reader_linktype(const struct sockit_pcap_reader *r)
{
    return sockit__dlt_to_linktype(pcap_datalink(r->pcap));
}

uint32_t sockit_pcap_reader_snaplen(const struct sockit_pcap_reader *r)
{
    return (uint32_t)pcap_snapshot(r->pcap);
}

int sockit_pcap_reader_filter(struct sockit_pcap_reader *r, const char *expr, char *err,
                              size_t errsize)
{
    struct sock_fprog prog;
    int rc = sockit__bpf_compile_dlt(&prog, expr, pcap_datalink(r->pcap),
                                     sockit_pcap_reader_snaplen(r), err, errsize);

    if (rc < 0)
        return rc;
    sockit_bpf_free(&r->filter);
    r->filter = prog;
    return 0;
}

/* libpcap has one code for every damage; its text tells an oversized record ("invalid packet
 * capture length N, bigger than ...", in pcap and pcapng alike) from the rest. */
static int damaged(struct sockit_pcap_reader *r, char *err, size_t errsize)
{
    static const char too_long[] = "invalid packet capture length";
    const char *text = pcap_geterr(r->pcap);
    bool record = strncmp(text, too_long, sizeof(too_long) - 1) == 0;

    r->err = record ? -SOCKIT_ECAP_RECORD : -SOCKIT_ECAP_FILE;
    return say(err, errsize, r->err, text);
}

static int oversized(struct sockit_pcap_reader *r, uint32_t caplen, char *err, size_t errsize)
{
    char text[96];

    snprintf(text, sizeof(text), "record of %u bytes, over the limit of %u", caplen,
             SOCKIT_PCAP_MAX_RECORD);
    r->err = -SOCKIT_ECAP_RECORD;
    return say(err, errsize, r->err, text);
}

int sockit_pcap_read(struct sockit_pcap_reader *r, struct sockit_pcap_record *rec, char *err,
                     size_t errsize)
{
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;

    while (r->err == 0) {
        if ((rc = pcap_next_ex(r->pcap, &h, &data)) == PCAP_ERROR_BREAK)
            return 0;
        if (rc != 1)
            return damaged(r, err, errsize);
        if (h->caplen > SOCKIT_PCAP_MAX_RECORD) /* libpcap allows more for a few link types */
            return oversized(r, h->caplen, err, errsize);
        if (r->filter.len && !sockit_bpf_match(&r->filter, data, h->caplen, h->len))
            continue;
        *rec = (struct sockit_pcap_record){
            .ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec,
            .caplen = h->caplen,
            .wirelen = h->len,
            .data = data,
        };
        return 1;
    }
    return r->err;
}

void sockit_pcap_reader_close(struct sockit_pcap_reader *r)
{
    if (!r)
        return;
    sockit_bpf_free(&r->filter);
    pcap_close(r->pcap);
    free(r);
}
