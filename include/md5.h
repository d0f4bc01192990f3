/*
 * md5.h — MD5 (RFC 1321) over bytes, for PostgreSQL's md5 password
 * scheme (md5auth.c). Not for anything that needs a secure hash.
 *
 * INTERFACE ROUTINES
 *   md5_init(m) / md5_update(m, data, len) / md5_final(m, out)
 *                          the 16-byte digest of everything given;
 *                          md5_final wipes the state
 */
#ifndef SLUICE_MD5_H
#define SLUICE_MD5_H

#include <stddef.h>
#include <stdint.h>

#define MD5_LEN 16

struct md5 {
	uint32_t h[4];
	uint64_t n;          /* bytes given so far */
	uint8_t buf[64];     /* the block not yet complete */
};

void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *data, size_t len);
void md5_final(struct md5 *m, uint8_t out[MD5_LEN]);

#endif
