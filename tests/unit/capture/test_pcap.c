/* Unit tests for sockit/pcap.h, files: the writer's bytes and its limits, records read back
 * exactly, tshark and tcpdump reading what we write, our reader reading what editcap writes
 * (pcapng, microsecond pcap), and damaged files refused with the documented code. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcap_frames.h"
#include "sockit/decode.h"
#include "sockit/error.h"
#include "sockit/pcap.h"

TestSuite(pcap_write, .init = tmp_open, .fini = tmp_close, .timeout = 30);
TestSuite(pcap_read, .init = tmp_open, .fini = tmp_close, .timeout = 30);
TestSuite(pcap_tools, .init = tmp_open, .fini = tmp_close, .timeout = 60);
TestSuite(pcap_damaged, .init = tmp_open, .fini = tmp_close, .timeout = 30);

static int create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    return fd;
}

static off_t file_size(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0);
    return st.st_size;
}

/* Read PATH through our reader into REC (up to MAX, copies of the bytes in DATA[i]); returns
 * the count, or the error that ended the read as a negative number in *END. */
struct got {
    struct sockit_pcap_record rec;
    uint8_t data[300 * 1024];
};

static int read_all(const char *path, struct got *got, int max, int *end)
{
    struct sockit_pcap_reader *r;
    char err[256];
    int n = 0, rc;

    cr_assert_eq(sockit_pcap_reader_open(&r, path, err, sizeof(err)), 0, "open: %s", err);
    while ((rc = sockit_pcap_read(r, &got[n < max ? n : max - 1].rec, err, sizeof(err))) == 1) {
        struct got *g = &got[n < max ? n : max - 1];
        memcpy(g->data, g->rec.data, g->rec.caplen);
        g->rec.data = g->data;
        n++;
    }
    *end = rc;
    sockit_pcap_reader_close(r);
    return n;
}

/* ---------------------------------------------------------------- the writer */

Test(pcap_write, the_file_header_says_nanosecond_pcap_2_4_the_snap_length_and_the_link_type)
{
    struct sockit_pcap_writer *w;
    uint32_t h[6];
    int fd = create(tmp_path("h.pcap"));

    cr_assert_eq(sockit_pcap_writer_open(&w, fd, SOCKIT_LINK_LINUX_SLL2, 96), 0);
    cr_expect_eq(sockit_pcap_written(w), 24, "the header is written at once");
    cr_assert_eq(sockit_pcap_writer_close(w), 0);
    fd = open(tmp_path("h.pcap"), O_RDONLY);
    cr_assert_eq(read(fd, h, sizeof(h)), 24, "the file is the header alone");
    close(fd);
    cr_expect_eq(h[0], 0xa1b23c4d, "magic %#x", h[0]);
    cr_expect_eq(h[1], 2u | 4u << 16, "version 2.4");
    cr_expect_eq(h[2], 0, "thiszone");
    cr_expect_eq(h[3], 0, "sigfigs");
    cr_expect_eq(h[4], 96, "snaplen");
    cr_expect_eq(h[5], 276, "linktype");
}

Test(pcap_write, refuses_a_link_type_it_does_not_know_and_leaves_the_fd_to_the_caller)
{
    struct sockit_pcap_writer *w = (void *)1;
    int fd = create(tmp_path("x.pcap"));

    cr_expect_eq(sockit_pcap_writer_open(&w, fd, 105 /* 802.11 */, 0), -SOCKIT_ECAP_LINKTYPE);
    cr_expect_null(w);
    cr_expect_eq(sockit_pcap_writer_open(&w, fd, 1, SOCKIT_PCAP_MAX_RECORD + 1), -EINVAL);
    cr_expect_eq(file_size(tmp_path("x.pcap")), 0, "nothing written");
    cr_expect_eq(close(fd), 0, "the fd is still open");
    cr_expect_eq(sockit_pcap_writer_open(&w, -1, 1, 0), -EBADF);
}

Test(pcap_write, a_snap_length_of_0_is_the_record_limit)
{
    struct sockit_pcap_writer *w;
    static uint8_t big[SOCKIT_PCAP_MAX_RECORD + 1];

    cr_assert_eq(sockit_pcap_writer_open(&w, create(tmp_path("a.pcap")), 1, 0), 0);
    cr_expect_eq(sockit_pcap_write(w, 1, big, SOCKIT_PCAP_MAX_RECORD, SOCKIT_PCAP_MAX_RECORD), 0);
    cr_expect_eq(sockit_pcap_write(w, 2, big, sizeof(big), sizeof(big)), -SOCKIT_ECAP_RECORD);
    cr_expect_eq(sockit_pcap_writer_close(w), 0);
}

Test(pcap_write, refuses_a_record_over_the_snap_length_or_longer_than_its_packet)
{
    struct sockit_pcap_writer *w;
    uint8_t frame[100] = { 0 };

    cr_assert_eq(sockit_pcap_writer_open(&w, create(tmp_path("a.pcap")), 1, 64), 0);
    cr_expect_eq(sockit_pcap_write(w, 1, frame, 65, 100), -SOCKIT_ECAP_RECORD);
    cr_expect_eq(sockit_pcap_write(w, 1, frame, 64, 63), -EINVAL);
    cr_expect_eq(sockit_pcap_write(w, 1, frame, 64, 100), 0, "a refusal is not final");
    cr_expect_eq(sockit_pcap_write(w, 1, NULL, 0, 100), 0, "a record of no bytes");
    cr_expect_eq(sockit_pcap_writer_close(w), 0);
    cr_expect_eq(file_size(tmp_path("a.pcap")), 24 + 16 + 64 + 16);
}

Test(pcap_write, records_wait_in_the_buffer_until_it_fills_or_is_flushed)
{
    struct sockit_pcap_writer *w;
    static uint8_t frame[1514];
    uint64_t rec = 16 + sizeof(frame);
    int n = 0;

    cr_assert_eq(sockit_pcap_writer_open(&w, create(tmp_path("a.pcap")), 1, 0), 0);
    while (sockit_pcap_written(w) == 24) {
        cr_assert_eq(sockit_pcap_write(w, (uint64_t)n, frame, sizeof(frame), sizeof(frame)), 0);
        cr_assert_lt(++n, 1000, "the buffer should be written at 1 MiB");
    }
    cr_expect_eq(n, (1024 * 1024) / rec + 1, "written when the next record did not fit");
    cr_expect_eq(sockit_pcap_written(w), 24 + (uint64_t)(n - 1) * rec, "whole records only");
    cr_expect_eq(file_size(tmp_path("a.pcap")), (off_t)sockit_pcap_written(w));
    cr_assert_eq(sockit_pcap_flush(w), 0);
    cr_expect_eq(sockit_pcap_written(w), 24 + (uint64_t)n * rec);
    cr_expect_eq(sockit_pcap_writer_close(w), 0);
    cr_expect_eq(sockit_pcap_writer_close(NULL), 0);
}

Test(pcap_write, a_full_device_is_enospc)
{
    struct sockit_pcap_writer *w;
    int fd = open("/dev/full", O_WRONLY);

    cr_assert_geq(fd, 0);
    cr_expect_eq(sockit_pcap_writer_open(&w, fd, 1, 0), -ENOSPC);
    close(fd);
}

/* The file size limit makes write() stop part-way through a record and then fail (EFBIG),
 * as a full disk does (ENOSPC): the file must end on the last whole record. */
Test(pcap_write, a_failed_write_leaves_the_whole_records_before_it_and_is_final)
{
    struct sockit_pcap_writer *w;
    struct rlimit old, lim;
    uint8_t frame[1000] = { 0 };
    struct got *got = malloc(4 * sizeof(*got));
    int end, n;

    cr_assert_eq(sockit_pcap_writer_open(&w, create(tmp_path("a.pcap")), 1, 0), 0);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(sockit_pcap_write(w, (uint64_t)i, frame, sizeof(frame), sizeof(frame)), 0);
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    lim = (struct rlimit){ 24 + 3 * 1016 + 500, old.rlim_max };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cr_expect_eq(sockit_pcap_flush(w), -EFBIG);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_expect_eq(sockit_pcap_written(w), 24 + 3 * 1016, "three whole records");
    cr_expect_eq(file_size(tmp_path("a.pcap")), 24 + 3 * 1016, "the half record is cut off");
    cr_expect_eq(sockit_pcap_write(w, 11, frame, 10, 10), -EFBIG, "the error is final");
    cr_expect_eq(sockit_pcap_writer_close(w), -EFBIG, "close returns the first error");
    n = read_all(tmp_path("a.pcap"), got, 4, &end);
    cr_expect_eq(n, 3);
    cr_expect_eq(end, 0, "the file ends cleanly");
    free(got);
}

/* ---------------------------------------------------------------- reading back */

struct sized {
    uint32_t caplen, wirelen;
    uint64_t ts_ns;
};

static const struct sized sizes[] = {
    { 60, 60, 1700000000000000000ull },
    { 0, 60, 1700000000000000001ull },
    { 1, 1, 1700000000999999999ull },
    { 1514, 1514, 1700000001000000000ull },
    { 96, 1514, 1700000001123456789ull },
    { 9000, 9000, 1700000002000000042ull },
    { 65535, 65535, 1700000002500000000ull },
    { SOCKIT_PCAP_MAX_RECORD, SOCKIT_PCAP_MAX_RECORD, 1700000003000000001ull },
    { 1000, 70000, 1700000004999999999ull },
    { 14, 14, 1000000000ull }, /* timestamps need not grow */
};

#define NSIZES (int)(sizeof(sizes) / sizeof(sizes[0]))

static uint8_t pattern(int rec, uint32_t i)
{
    return (uint8_t)(rec * 31 + i * 7 + (i >> 8));
}

static void write_sized(const char *path)
{
    static uint8_t buf[SOCKIT_PCAP_MAX_RECORD];
    struct sockit_pcap_writer *w;

    cr_assert_eq(sockit_pcap_writer_open(&w, create(path), SOCKIT_LINK_ETHERNET, 0), 0);
    for (int r = 0; r < NSIZES; r++) {
        for (uint32_t i = 0; i < sizes[r].caplen; i++)
            buf[i] = pattern(r, i);
        cr_assert_eq(sockit_pcap_write(w, sizes[r].ts_ns, buf, sizes[r].caplen, sizes[r].wirelen),
                     0);
    }
    cr_assert_eq(sockit_pcap_writer_close(w), 0);
}

static void expect_sized(const struct got *got, int n, uint64_t ts_unit)
{
    cr_assert_eq(n, NSIZES);
    for (int r = 0; r < n; r++) {
        const struct sockit_pcap_record *rec = &got[r].rec;
        uint32_t bad = 0;
        cr_expect_eq(rec->ts_ns, sizes[r].ts_ns / ts_unit * ts_unit, "record %d ts %llu", r,
                     (unsigned long long)rec->ts_ns);
        cr_expect_eq(rec->caplen, sizes[r].caplen, "record %d caplen", r);
        cr_expect_eq(rec->wirelen, sizes[r].wirelen, "record %d wirelen", r);
        for (uint32_t i = 0; i < rec->caplen && i < sizes[r].caplen; i++)
            bad += rec->data[i] != pattern(r, i);
        cr_expect_eq(bad, 0, "record %d: %u bytes differ", r, bad);
    }
}

Test(pcap_read, reads_back_every_record_exactly)
{
    struct got *got = malloc(NSIZES * sizeof(*got));
    struct sockit_pcap_reader *r;
    struct sockit_pcap_record rec;
    int end;

    write_sized(tmp_path("s.pcap"));
    expect_sized(got, read_all(tmp_path("s.pcap"), got, NSIZES, &end), 1);
    cr_expect_eq(end, 0);
    cr_assert_eq(sockit_pcap_reader_open(&r, tmp_path("s.pcap"), NULL, 0), 0);
    cr_expect_eq(sockit_pcap_reader_linktype(r), SOCKIT_LINK_ETHERNET);
    cr_expect_eq(sockit_pcap_reader_snaplen(r), SOCKIT_PCAP_MAX_RECORD);
    while (sockit_pcap_read(r, &rec, NULL, 0) == 1)
        ;
    cr_expect_eq(sockit_pcap_read(r, &rec, NULL, 0), 0, "the end stays the end");
    sockit_pcap_reader_close(r);
    sockit_pcap_reader_close(NULL);
    free(got);
}

Test(pcap_read, a_raw_ip_file_says_linktype_raw)
{
    struct frame f[MAX_FRAMES];
    struct sockit_pcap_reader *r;

    frames_build(f);
    frames_write(tmp_path("raw.pcap"), f, 1, SOCKIT_LINK_RAW);
    cr_assert_eq(sockit_pcap_reader_open(&r, tmp_path("raw.pcap"), NULL, 0), 0);
    cr_expect_eq(sockit_pcap_reader_linktype(r), SOCKIT_LINK_RAW, "LINKTYPE_RAW, not DLT_RAW");
    cr_expect_eq(sockit_pcap_reader_filter(r, "ip", NULL, 0), 0, "a filter for raw IP");
    sockit_pcap_reader_close(r);
}

Test(pcap_read, reads_standard_input_for_a_dash)
{
    struct sockit_pcap_reader *r;
    struct sockit_pcap_record rec;
    int n = 0;

    write_sized(tmp_path("s.pcap"));
    cr_assert_not_null(freopen(tmp_path("s.pcap"), "rb", stdin));
    cr_assert_eq(sockit_pcap_reader_open(&r, "-", NULL, 0), 0);
    while (sockit_pcap_read(r, &rec, NULL, 0) == 1)
        n++;
    sockit_pcap_reader_close(r);
    cr_expect_eq(n, NSIZES);
    cr_expect_geq(fcntl(0, F_GETFD), 0, "standard input stays open");
}

Test(pcap_read, a_file_that_cannot_be_opened_is_errno)
{
    struct sockit_pcap_reader *r = (void *)1;
    char err[128] = "";

    cr_expect_eq(sockit_pcap_reader_open(&r, tmp_path("none"), err, sizeof(err)), -ENOENT);
    cr_expect_null(r);
    cr_expect_str_eq(err, "No such file or directory");
    cr_expect_eq(sockit_pcap_reader_open(&r, tmp_path(""), err, sizeof(err)), -EISDIR);
    cr_expect_eq(sockit_pcap_reader_open(&r, tmp_path("none/x"), NULL, 0), -ENOENT);
}

/* ---------------------------------------------------------------- other programs */

Test(pcap_tools, tshark_reads_the_same_lengths_and_nanosecond_times)
{
    char cmd[512], lines[NSIZES + 1][TOOL_LINE], want[TOOL_LINE], ts[32];
    int n;

    write_sized(tmp_path("s.pcap"));
    snprintf(cmd, sizeof(cmd),
             "tshark -r %s -T fields -e frame.len -e frame.cap_len -e frame.time_epoch "
             "2>/dev/null",
             tmp_path("s.pcap"));
    n = tool_lines(cmd, lines, NSIZES + 1);
    cr_assert_eq(n, NSIZES, "tshark printed %d records", n);
    for (int r = 0; r < n; r++) {
        ts_text(sizes[r].ts_ns, ts, sizeof(ts));
        snprintf(want, sizeof(want), "%u\t%u\t%s", sizes[r].wirelen, sizes[r].caplen, ts);
        cr_expect_str_eq(lines[r], want, "record %d", r);
    }
}

/* One line a record (hex dumps of unknown ethertypes are indented; the record of 0 bytes is
 * "[Invalid header: caplen==0]", tcpdump's word for it, but it is read). */
Test(pcap_tools, tcpdump_reads_every_record)
{
    char cmd[512], lines[NSIZES + 1][TOOL_LINE];

    write_sized(tmp_path("s.pcap"));
    snprintf(cmd, sizeof(cmd), "tcpdump -nn -r %s 2>/dev/null | grep -vc '^[[:space:]]'",
             tmp_path("s.pcap"));
    cr_assert_eq(tool_lines(cmd, lines, 1), 1);
    cr_expect_eq(atoi(lines[0]), NSIZES, "tcpdump counted %s", lines[0]);
}

/* editcap FORMAT: our file rewritten by Wireshark's writer (its first 4 bytes MAGIC), read
 * back by ours with timestamps in units of TS_UNIT nanoseconds. */
static void expect_after_editcap(const char *format, uint32_t magic, uint64_t ts_unit)
{
    char cmd[512], lines[4][TOOL_LINE];
    struct got *got = malloc(NSIZES * sizeof(*got));
    uint32_t first = 0;
    int end, n;
    FILE *f;

    write_sized(tmp_path("s.pcap"));
    snprintf(cmd, sizeof(cmd), "editcap -F %s %s %s 2>&1", format, tmp_path("s.pcap"),
             tmp_path("e.out"));
    tool_lines(cmd, lines, 4);
    cr_assert_not_null(f = fopen(tmp_path("e.out"), "rb"));
    cr_assert_eq(fread(&first, 4, 1, f), 1);
    fclose(f);
    cr_expect_eq(first, magic, "editcap -F %s wrote magic %#x", format, first);
    n = read_all(tmp_path("e.out"), got, NSIZES, &end);
    cr_expect_eq(end, 0);
    expect_sized(got, n, ts_unit);
    free(got);
}

Test(pcap_tools, reads_pcapng_written_by_editcap)
{
    expect_after_editcap("pcapng", 0x0a0d0d0a /* section header block */, 1);
}

Test(pcap_tools, reads_a_microsecond_pcap_in_nanoseconds)
{
    expect_after_editcap("pcap", 0xa1b2c3d4, 1000);
}

/* ---------------------------------------------------------------- damaged files */

/* A classic pcap file of our own bytes: MAGIC, SNAPLEN, LINKTYPE, then BODY. */
static void raw_file(const char *path, uint32_t magic, uint32_t snaplen, uint32_t linktype,
                     const void *body, size_t len)
{
    uint32_t h[6] = { magic, 2u | 4u << 16, 0, 0, snaplen, linktype };
    FILE *f = fopen(path, "wb");

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(h, sizeof(h), 1, f), 1);
    if (len)
        cr_assert_eq(fwrite(body, len, 1, f), 1);
    cr_assert_eq(fclose(f), 0);
}

static void expect_open_fails(const char *path, const char *what)
{
    struct sockit_pcap_reader *r = (void *)1;
    char err[256] = "";

    cr_expect_eq(sockit_pcap_reader_open(&r, path, err, sizeof(err)), -SOCKIT_ECAP_FILE, "%s",
                 what);
    cr_expect_null(r);
    cr_expect_neq(err[0], '\0', "%s: libpcap's reason", what);
}

/* Open PATH (it must open) and read to the end: the code that ended it, and ERR's text. */
static int read_to_end(const char *path, int *records, char *err, size_t errsize)
{
    struct sockit_pcap_reader *r;
    struct sockit_pcap_record rec;
    int rc;

    cr_assert_eq(sockit_pcap_reader_open(&r, path, err, errsize), 0, "%s", err);
    *records = 0;
    while ((rc = sockit_pcap_read(r, &rec, err, errsize)) == 1)
        (*records)++;
    cr_expect_eq(sockit_pcap_read(r, &rec, NULL, 0), rc, "the same again");
    sockit_pcap_reader_close(r);
    return rc;
}

Test(pcap_damaged, an_empty_file_a_cut_header_or_a_bad_magic_is_not_a_capture_file)
{
    uint32_t zero = 0;

    close(create(tmp_path("empty")));
    expect_open_fails(tmp_path("empty"), "empty");
    raw_file(tmp_path("cut"), 0xa1b23c4d, 0, 1, NULL, 0);
    cr_assert_eq(truncate(tmp_path("cut"), 10), 0);
    expect_open_fails(tmp_path("cut"), "a header cut at 10 bytes");
    raw_file(tmp_path("magic"), 0xdeadbeef, 65535, 1, &zero, sizeof(zero));
    expect_open_fails(tmp_path("magic"), "bad magic");
    expect_open_fails("/etc/passwd", "text");
}

Test(pcap_damaged, a_record_header_or_data_cut_short_is_a_damaged_file)
{
    uint32_t rec[4 + 25] = { 1, 2, 100, 100 };
    char err[256];
    int n;

    raw_file(tmp_path("hdr"), 0xa1b23c4d, 65535, 1, rec, 8);
    cr_expect_eq(read_to_end(tmp_path("hdr"), &n, err, sizeof(err)), -SOCKIT_ECAP_FILE);
    cr_expect(strstr(err, "truncated"), "libpcap says: %s", err);
    raw_file(tmp_path("data"), 0xa1b23c4d, 65535, 1, rec, 16 + 50);
    cr_expect_eq(read_to_end(tmp_path("data"), &n, err, sizeof(err)), -SOCKIT_ECAP_FILE);
    cr_expect(strstr(err, "truncated"), "libpcap says: %s", err);
    cr_expect_eq(n, 0);
}

Test(pcap_damaged, the_records_before_the_damage_are_read)
{
    struct frame f[MAX_FRAMES];
    char err[256];
    int n, count = frames_build(f);

    frames_write(tmp_path("a.pcap"), f, count, 1);
    cr_assert_eq(truncate(tmp_path("a.pcap"), file_size(tmp_path("a.pcap")) - 5), 0);
    cr_expect_eq(read_to_end(tmp_path("a.pcap"), &n, err, sizeof(err)), -SOCKIT_ECAP_FILE);
    cr_expect_eq(n, count - 1);
}

Test(pcap_damaged, a_record_of_1_gb_is_over_the_limits)
{
    uint32_t rec[4 + 4] = { 1, 2, 1u << 30, 1u << 30 };
    char err[256];
    int n;

    raw_file(tmp_path("big"), 0xa1b23c4d, 65535, 1, rec, sizeof(rec));
    cr_expect_eq(read_to_end(tmp_path("big"), &n, err, sizeof(err)), -SOCKIT_ECAP_RECORD);
    cr_expect(strstr(err, "1073741824"), "libpcap says: %s", err);
    raw_file(tmp_path("big0"), 0xa1b23c4d, 0, 1, rec, sizeof(rec));
    cr_expect_eq(read_to_end(tmp_path("big0"), &n, err, sizeof(err)), -SOCKIT_ECAP_RECORD);
}

/* libpcap cuts a classic pcap record over the snap length (but under the link type's
 * maximum) to the snap length, rather than refusing the file. */
Test(pcap_damaged, a_record_over_the_snap_length_comes_back_cut_to_it)
{
    uint32_t recs[4 + 15 + 4 + 5] = { 1, 2, 60, 60 };
    struct got *got = malloc(2 * sizeof(*got));
    int end;

    memcpy(&recs[19], (uint32_t[]){ 1, 3, 20, 20 }, 16);
    raw_file(tmp_path("over"), 0xa1b23c4d, 40, 1, recs, sizeof(recs));
    cr_expect_eq(read_all(tmp_path("over"), got, 2, &end), 2);
    cr_expect_eq(end, 0);
    cr_expect_eq(got[0].rec.caplen, 40);
    cr_expect_eq(got[0].rec.wirelen, 60);
    cr_expect_eq(got[1].rec.caplen, 20, "the next record is where it should be");
    cr_expect_eq(got[1].rec.ts_ns, 1000000003);
    free(got);
}

/* libpcap lets D-Bus records reach 128 MiB: our own cap refuses them past 256 KiB. */
Test(pcap_damaged, a_record_libpcap_allows_over_our_limit_is_refused)
{
    static uint32_t rec[4 + 70000] = { 1, 2, 280000, 280000 };
    char err[256];
    int n;

    raw_file(tmp_path("dbus"), 0xa1b23c4d, 0, 231 /* LINKTYPE_DBUS */, rec, 16 + 280000);
    cr_expect_eq(read_to_end(tmp_path("dbus"), &n, err, sizeof(err)), -SOCKIT_ECAP_RECORD);
    cr_expect(strstr(err, "280000"), "says which: %s", err);
}

/* A snap length of 0 in the header is read as the link type's maximum, as libpcap, tcpdump
 * and Wireshark all do: the file is not refused. */
Test(pcap_damaged, a_snap_length_of_0_reads_as_the_maximum)
{
    uint32_t rec[4 + 15] = { 1, 2, 60, 60 };
    char err[256];
    struct sockit_pcap_reader *r;
    int n;

    raw_file(tmp_path("snap0"), 0xa1b23c4d, 0, 1, rec, sizeof(rec));
    cr_expect_eq(read_to_end(tmp_path("snap0"), &n, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(n, 1);
    cr_assert_eq(sockit_pcap_reader_open(&r, tmp_path("snap0"), NULL, 0), 0);
    cr_expect_eq(sockit_pcap_reader_snaplen(r), 262144);
    sockit_pcap_reader_close(r);
}
