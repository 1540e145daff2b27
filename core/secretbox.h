/*
 * secretbox.h -- private: sealing small secrets at rest (AES-256-GCM from
 * libcrypto) under the operator's key.  Bottom layer: knows bytes, not
 * what they mean.
 */
#ifndef UNHOOK_SECRETBOX_H
#define UNHOOK_SECRETBOX_H

#include <stddef.h>

#define UH_KEY_BYTES 32

/*
 * The operator's key: $UNHOOK_SECRET_KEY (64 hex digits, or base64 of 32
 * bytes), else the file $UNHOOK_SECRET_KEY_FILE (the same text, or 32 raw
 * bytes).  0; 1 when neither is set; -1 when one is set but unusable
 * (the reason in err).
 */
int uh_secretbox_key(unsigned char key[UH_KEY_BYTES], char *err, size_t errsz);

/*
 * Seal n bytes of pt: nonce (12) | ciphertext | tag (16), malloc'd into
 * *out.  aad binds the box to where it is kept (it is not stored).
 * 0, or -1 (out of memory, or libcrypto failed).
 */
int uh_secretbox_seal(const unsigned char key[UH_KEY_BYTES], const char *aad,
                      const void *pt, size_t n, unsigned char **out,
                      size_t *outn);

/* Open a box from uh_secretbox_seal into *pt (malloc'd, NUL-terminated).
 * 0, or -1 when the key or aad is wrong or the box was altered. */
int uh_secretbox_open(const unsigned char key[UH_KEY_BYTES], const char *aad,
                      const unsigned char *box, size_t n, char **pt,
                      size_t *ptn);

#endif
