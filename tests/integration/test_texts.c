/* What the program says when it is used wrongly (issue 16, "Texts"): an option where a
 * command belongs, help for one command, an endpoint too long or with control characters, a
 * regular file where a unix socket belongs, and the top-level help naming every endpoint form. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"

/* Run sockit with ARGV (after the program name); return its exit code, stdout and stderr. */
static int run(const char *const args[], const char **out, const char **err)
{
    const char *argv[12] = { h_sockit() };
    struct proc p;

    for (int i = 0; args[i] && i < 10; i++)
        argv[i + 1] = args[i];
    h_start(&p, argv, "", 0, NULL);
    int rc = h_wait(&p, 10000);
    *out = h_text_of(&p, false, NULL);
    *err = h_text_of(&p, true, NULL);
    h_cleanup(&p);
    return rc;
}

Test(texts, an_option_in_place_of_a_command_is_called_an_option)
{
    const char *out, *err;
    int rc = run((const char *const[]){ "--bogus", NULL }, &out, &err);

    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "unknown option '--bogus'") != NULL, "stderr: %s", err);
}

Test(texts, help_with_a_command_prints_that_commands_help)
{
    const char *out, *err;
    int rc = run((const char *const[]){ "help", "echo", NULL }, &out, &err);

    cr_expect_eq(rc, 0);
    cr_expect(strncmp(out, "Usage: sockit echo ", 19) == 0, "stdout: %.200s", out);
    rc = run((const char *const[]){ "help", "nosuch", NULL }, &out, &err);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "unknown command 'nosuch'") != NULL, "stderr: %s", err);
}

Test(texts, a_long_endpoint_is_cut_and_control_characters_are_escaped)
{
    static char longer[120 * 1024];
    const char *out, *err;

    memcpy(longer, "tcp://", 6);
    memset(longer + 6, 'a', sizeof(longer) - 7);
    int rc = run((const char *const[]){ "send", longer, "x", NULL }, &out, &err);
    cr_expect_eq(rc, 2);
    cr_expect_lt(strlen(err), 512, "a %zu-byte endpoint gave %zu bytes of error", sizeof(longer),
                 strlen(err));
    cr_expect(strstr(err, "bytes)") != NULL, "the cut says how long it was: %s", err);
    rc = run((const char *const[]){ "send", "tcp://a\033[2Jb:80", "x", NULL }, &out, &err);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "a\\x1b[2Jb") != NULL, "escape shown as \\x1b: %s", err);
    cr_expect(strchr(err, '\033') == NULL, "no raw escape byte reaches the terminal");
}

Test(texts, a_regular_file_as_unix_path_is_named_as_such)
{
    char path[96], ep[128];
    const char *out, *err;

    h_tmp_path(path, sizeof(path), "regular");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(ep, sizeof(ep), "unix:%s", path);
    int rc = run((const char *const[]){ "echo", ep, NULL }, &out, &err);
    cr_expect_eq(rc, 1);
    cr_expect(strstr(err, "not a socket") != NULL, "stderr: %s", err);
    cr_expect_eq(access(path, F_OK), 0, "the file is left alone");
    unlink(path);
}

Test(texts, top_level_help_names_every_endpoint_form)
{
    const char *out, *err;
    int rc = run((const char *const[]){ "--help", NULL }, &out, &err);

    cr_expect_eq(rc, 0);
    for (const char *const *form =
             (const char *const[]){ "tcp://", "udp://", "unix:/PATH", "unix:@NAME",
                                    "unix-dgram:/PATH", "unix-dgram:@NAME", NULL };
         *form; form++)
        cr_expect(strstr(out, *form) != NULL, "the help does not name %s", *form);
}

Test(texts, loose_ipv4_forms_are_refused)
{
    const char *out, *err;
    int rc = run((const char *const[]){ "send", "tcp://0x7f.1:9", "x", NULL }, &out, &err);

    cr_expect_eq(rc, 2);
    cr_expect(strstr(err, "invalid IPv4 address") != NULL, "stderr: %s", err);
}

Test(texts, send_refuses_a_second_file)
{
    const char *out, *err;
    int rc = run((const char *const[]){ "send", "tcp://127.0.0.1:9", "-f", "/etc/hostname", "-f",
                                        "/etc/hosts", NULL },
                 &out, &err);

    cr_expect_eq(rc, 2, "exit %d, stderr: %s", rc, err);
    cr_expect(strstr(err, "-f given twice") != NULL, "stderr: %s", err);
}

Test(texts, send_refuses_nodelay_off_tcp)
{
    const char *out, *err;
    int rc = run((const char *const[]){ "send", "unix:/tmp/nowhere.sock", "x", "--nodelay", NULL },
                 &out, &err);

    cr_expect_eq(rc, 2, "exit %d, stderr: %s", rc, err);
    cr_expect(strstr(err, "--nodelay") != NULL, "stderr: %s", err);
}
