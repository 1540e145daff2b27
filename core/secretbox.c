/*
 * secretbox.c -- AES-256-GCM boxes for secrets at rest, and the
 * operator's key.  A fresh random nonce per box; the tag authenticates
 * the box and where it is kept (aad), so a box copied to another row
 * does not open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "secretbox.h"
#include "util.h"

#define NONCE 12
#define TAG 16

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 32 bytes of printable text: a password, not random bytes (all 32
 * random bytes printable: about one chance in 10^13) */
static int text_like(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* text (whitespace around it ignored) as 64 hex digits or base64 of 32
 * bytes; raw: 32 random bytes as they are also do.  0 or -1. */
static int parse_key(const char *text, size_t n, int raw,
                     unsigned char key[UH_KEY_BYTES])
{
    unsigned char tmp[64];
    int k;

    if (raw && n == UH_KEY_BYTES && !text_like(text, n)) {
        memcpy(key, text, UH_KEY_BYTES);
        return 0;
    }
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
                 text[n - 1] == ' ' || text[n - 1] == '\t'))
        n--;
    while (n && (*text == ' ' || *text == '\t')) {
        text++;
        n--;
    }
    if (n == 2 * UH_KEY_BYTES) {
        size_t i;
        for (i = 0; i < UH_KEY_BYTES; i++) {
            int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
            if (hi < 0 || lo < 0)
                break;
            key[i] = (unsigned char)(hi << 4 | lo);
        }
        if (i == UH_KEY_BYTES)
            return 0;
    }
    if (n == 44 && text[43] == '=') {
        k = EVP_DecodeBlock(tmp, (const unsigned char *)text, 44);
        if (k == 33) {          /* one byte of padding decoded as zero */
            memcpy(key, tmp, UH_KEY_BYTES);
            return 0;
        }
    }
    return -1;
}

int uh_secretbox_key(unsigned char key[UH_KEY_BYTES], char *err, size_t errsz)
{
    const char *v = getenv("UNHOOK_SECRET_KEY");
    const char *path = getenv("UNHOOK_SECRET_KEY_FILE");
    struct stat st;
    char *text;
    size_t n;
    int e, rc;

    if (v && *v) {
        if (parse_key(v, strlen(v), 0, key) == 0)
            return 0;
        snprintf(err, errsz, "UNHOOK_SECRET_KEY: expected 64 hex digits or "
                 "the base64 of 32 bytes (e.g. `openssl rand -hex 32`)");
        return -1;
    }
    if (!path || !*path)
        return 1;
    /* as ssh treats a private key: one that others may read is no secret,
     * one that others may write could be swapped */
    if (stat(path, &st) == 0 && (st.st_mode & (S_IROTH | S_IWGRP | S_IWOTH))) {
        snprintf(err, errsz, "UNHOOK_SECRET_KEY_FILE: %s: readable by others or "
                 "writable by group or others; chmod 600 it", path);
        return -1;
    }
    if ((e = uh_read_file(path, 0, &text, &n)) != 0) {
        snprintf(err, errsz, "UNHOOK_SECRET_KEY_FILE: %s: %s", path, strerror(e));
        return -1;
    }
    rc = parse_key(text, n, 1, key);
    memset(text, 0, n);
    free(text);
    if (rc != 0)
        snprintf(err, errsz, "UNHOOK_SECRET_KEY_FILE: %s: expected 32 random "
                 "bytes (not a 32-character password), 64 hex digits or the "
                 "base64 of 32 bytes (e.g. `openssl rand -hex 32`)", path);
    return rc;
}

int uh_secretbox_seal(const unsigned char key[UH_KEY_BYTES], const char *aad,
                      const void *pt, size_t n, unsigned char **out,
                      size_t *outn)
{
    EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
    unsigned char *box = malloc(NONCE + n + TAG);
    int len, ok;

    ok = cx && box && RAND_bytes(box, NONCE) == 1 &&
         EVP_EncryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1 &&
         EVP_EncryptInit_ex(cx, NULL, NULL, key, box) == 1 &&
         EVP_EncryptUpdate(cx, NULL, &len, (const unsigned char *)aad,
                           (int)strlen(aad)) == 1 &&
         EVP_EncryptUpdate(cx, box + NONCE, &len, pt, (int)n) == 1 &&
         EVP_EncryptFinal_ex(cx, box + NONCE + len, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, TAG, box + NONCE + n) == 1;
    EVP_CIPHER_CTX_free(cx);
    if (!ok) {
        free(box);
        return -1;
    }
    *out = box;
    *outn = NONCE + n + TAG;
    return 0;
}

int uh_secretbox_open(const unsigned char key[UH_KEY_BYTES], const char *aad,
                      const unsigned char *box, size_t n, char **pt,
                      size_t *ptn)
{
    EVP_CIPHER_CTX *cx;
    unsigned char *p;
    size_t m;
    int len, ok;

    if (n < NONCE + TAG)
        return -1;
    m = n - NONCE - TAG;
    cx = EVP_CIPHER_CTX_new();
    p = malloc(m + 1);
    ok = cx && p &&
         EVP_DecryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1 &&
         EVP_DecryptInit_ex(cx, NULL, NULL, key, box) == 1 &&
         EVP_DecryptUpdate(cx, NULL, &len, (const unsigned char *)aad,
                           (int)strlen(aad)) == 1 &&
         EVP_DecryptUpdate(cx, p, &len, box + NONCE, (int)m) == 1 &&
         EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, TAG,
                             (void *)(box + NONCE + m)) == 1 &&
         EVP_DecryptFinal_ex(cx, p + len, &len) == 1;
    EVP_CIPHER_CTX_free(cx);
    if (!ok) {
        if (p) {
            memset(p, 0, m);
            free(p);
        }
        return -1;
    }
    p[m] = '\0';
    *pt = (char *)p;
    *ptn = m;
    return 0;
}
