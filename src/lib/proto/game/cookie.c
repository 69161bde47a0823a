/* The stateless connect cookie (sockit/game.h): HMAC-SHA256 from OpenSSL's libcrypto over the
 * client's address and port, its salt and a coarse time, truncated. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "sockit/game.h"

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

int sockit_game_cookie(const uint8_t *secret, const struct sockit_addr *addr, uint64_t salt,
                       uint32_t time, uint8_t *out)
{
    uint8_t msg[1 + 16 + 2 + 8 + 4], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    size_t n = 0;

    if (addr->u.sa.sa_family == AF_INET) {
        msg[n++] = 4;
        memcpy(msg + n, &addr->u.in.sin_addr, 4);
        n += 4;
        memcpy(msg + n, &addr->u.in.sin_port, 2);
    } else if (addr->u.sa.sa_family == AF_INET6) {
        msg[n++] = 6;
        memcpy(msg + n, &addr->u.in6.sin6_addr, 16);
        n += 16;
        memcpy(msg + n, &addr->u.in6.sin6_port, 2);
    } else {
        return -EINVAL;
    }
    n += 2;
    put_be(msg + n, salt, 8);
    n += 8;
    put_be(msg + n, time, 4);
    n += 4;
    if (!HMAC(EVP_sha256(), secret, SOCKIT_GAME_SECRET_LEN, msg, n, mac, &maclen) ||
        maclen < SOCKIT_GAME_COOKIE_LEN)
        return -EINVAL;
    memcpy(out, mac, SOCKIT_GAME_COOKIE_LEN);
    return 0;
}

bool sockit_game_cookie_valid(const uint8_t *secret, const struct sockit_addr *addr, uint64_t salt,
                              uint32_t time, const uint8_t *cookie, uint32_t now, uint32_t max_age)
{
    uint8_t want[SOCKIT_GAME_COOKIE_LEN];

    if (time > now || now - time > max_age)
        return false;
    if (sockit_game_cookie(secret, addr, salt, time, want) < 0)
        return false;
    return CRYPTO_memcmp(want, cookie, SOCKIT_GAME_COOKIE_LEN) == 0;
}
