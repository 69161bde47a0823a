/* The chat's web page (chat_page.html), in the binary: one HTML file with its CSS and plain
 * JavaScript, no build step. */
#ifndef SOCKIT_CLI_CHAT_PAGE_H
#define SOCKIT_CLI_CHAT_PAGE_H

#include <stddef.h>

extern const char chat_page[];
extern const size_t chat_page_len;

#endif
