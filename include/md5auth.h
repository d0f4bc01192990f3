/*
 * md5auth.h — PostgreSQL's md5 password scheme (over OpenSSL's EVP MD5).
 *
 *   md5auth_hash(password, user, out)         "md5" + md5hex(password user)
 *   md5auth_response(secret, user, salt, out) what a client sends for `salt`:
 *        "md5" + md5hex(md5hex(password user) salt). `secret` may be plain or
 *        already "md5..." hashed.
 *   md5auth_check(secret, user, salt, response)  constant-time compare
 *
 * out buffers are MD5AUTH_LEN + 1 bytes.
 */
#ifndef SLUICE_MD5AUTH_H
#define SLUICE_MD5AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include "compiler.h"

#define MD5AUTH_LEN 35   /* "md5" + 32 hex digits */

bool md5auth_hash(const char *password, const char *user, char out[MD5AUTH_LEN + 1]) MUST_CHECK;
bool md5auth_response(const char *secret, const char *user, const uint8_t salt[4],
		      char out[MD5AUTH_LEN + 1]) MUST_CHECK;
bool md5auth_check(const char *secret, const char *user, const uint8_t salt[4],
		   const char *response);

#endif
