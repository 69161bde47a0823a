/* chat_page.html, taken into the binary as it is by the assembler's .incbin (the file's path
 * is relative to the top of the tree, where make runs the compiler). */
#include "chat_page.h"

__asm__(".section .rodata\n"
        ".global chat_page\n"
        ".type chat_page, @object\n"
        ".balign 16\n"
        "chat_page:\n"
        ".incbin \"src/cli/chat_page.html\"\n"
        "chat_page_end:\n"
        ".byte 0\n"
        ".global chat_page_len\n"
        ".type chat_page_len, @object\n"
        ".balign 8\n"
        "chat_page_len:\n"
        ".quad chat_page_end - chat_page\n"
        ".previous\n");
