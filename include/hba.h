/*
 * hba.h — auth_hba_file: a pg_hba.conf parser and matcher (pure; no libevent).
 *
 * The file is PostgreSQL's pg_hba.conf (15) format: records of
 *
 *   local      DATABASE USER                METHOD [OPTIONS]
 *   host*      DATABASE USER ADDRESS        METHOD [OPTIONS]
 *   host*      DATABASE USER IP-ADDR IP-MASK METHOD [OPTIONS]
 *
 * The first record whose connection type, client address, database and user
 * match decides; no match means reject. Constructs that need what sluice
 * cannot know (role membership, @file, samehost, host names, ident maps)
 * fail the load with "file:line: ... is not supported". doc/hba.md has the
 * details and the differences from PostgreSQL.
 *
 * INTERFACE ROUTINES
 *   hba_load(path, &rules, err, errlen)     parse a file ("file:line: reason")
 *   hba_parse(text, len, name, &rules, err, errlen)   same, from memory
 *   hba_find(rules, conn, tls, addr, database, user)  the first match
 *   hba_find_clientcert(rules)               the first record that needs a
 *                                            client certificate
 *   hba_count(rules)                         number of records
 *   hba_copy(rules)                          a copy sharing nothing (NULL:
 *                                            out of memory, or rules NULL)
 *   hba_free(rules)                          hba_free(NULL) is a no-op
 *   hba_method_name(method)                  "scram-sha-256", ...
 */
#ifndef SLUICE_HBA_H
#define SLUICE_HBA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "compiler.h"

/* The client's side of the connection. */
enum hba_conn { HBA_CONN_LOCAL, HBA_CONN_TCP };

enum hba_method { HBA_REJECT = 0, HBA_TRUST, HBA_MD5, HBA_SCRAM, HBA_PASSWORD, HBA_CERT };

/* Client certificate requirement: clientcert=verify-ca|verify-full, or cert. */
enum hba_clientcert { HBA_CLIENTCERT_OFF = 0, HBA_CLIENTCERT_CA, HBA_CLIENTCERT_FULL };

struct hba_match {
	enum hba_method method;
	int line;                        /* of the matching record; 0: none matched */
	enum hba_clientcert clientcert;  /* always FULL with HBA_CERT */
};

struct hba_rules;            /* opaque; owned by whoever loaded it */

bool hba_load(const char *path, struct hba_rules **out, char *err, size_t errlen) MUST_CHECK;
bool hba_parse(const char *text, size_t len, const char *name,
	       struct hba_rules **out, char *err, size_t errlen) MUST_CHECK;

/*
 * The first record matching the client; {HBA_REJECT, 0, OFF} when none does.
 * `addr` is the peer's AF_INET or AF_INET6 address for HBA_CONN_TCP (ignored
 * for local); `database` is the effective name (the user's when the client
 * sent none). NULL rules, addr, database or user never match a named entry.
 */
struct hba_match hba_find(const struct hba_rules *r, enum hba_conn conn, bool tls,
			  const struct sockaddr *addr, const char *database, const char *user);
/*
 * The first record that needs a client certificate (clientcert=verify-ca,
 * verify-full, or the cert method); line 0 when none does. The caller
 * checks that certificates can be verified (client_tls_ca_file is set).
 */
struct hba_match hba_find_clientcert(const struct hba_rules *r);
size_t hba_count(const struct hba_rules *r);
struct hba_rules *hba_copy(const struct hba_rules *r);
void hba_free(struct hba_rules *r);
const char *hba_method_name(enum hba_method m);

#endif
