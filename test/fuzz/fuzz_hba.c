/*
 * fuzz_hba.c — libFuzzer target for the pg_hba.conf parser (hba_parse) and
 * matcher (hba_find). A parse that fails must say "fuzz.conf..." and leave
 * nothing behind; one that succeeds is queried from every side (unix socket,
 * TCP with and without TLS, IPv4, IPv6, IPv4-mapped IPv6, no address) and
 * each answer checked against what a matching record can say, as is the
 * first record that needs a client certificate. Nothing here
 * touches a file; everything parsed is freed, so leaks show.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "hba.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void query(const struct hba_rules *r, size_t lines, enum hba_conn conn, bool tls,
		  const char *ip, const char *db, const char *user)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct hba_match m;

	memset(&ss, 0, sizeof ss);
	if (ip && inet_pton(AF_INET, ip, &a4->sin_addr) == 1)
		a4->sin_family = AF_INET;
	else if (ip && inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1)
		a6->sin6_family = AF_INET6;
	m = hba_find(r, conn, tls, ip ? (struct sockaddr *)&ss : NULL, db, user);
	if (m.line < 0 || (size_t)m.line > lines)
		BUG("hba_find: line %d of a %zu-line file", m.line, lines);
	if (m.line == 0 && (m.method != HBA_REJECT || m.clientcert != HBA_CLIENTCERT_OFF))
		BUG("hba_find: no match but method %d clientcert %d", (int)m.method, (int)m.clientcert);
	if (strcmp(hba_method_name(m.method), "unknown") == 0)
		BUG("hba_find: method %d", (int)m.method);
	if ((m.clientcert != HBA_CLIENTCERT_OFF || m.method == HBA_CERT) &&
	    (conn != HBA_CONN_TCP || !tls))
		BUG("hba_find: a certificate demanded without TLS (line %d)", m.line);
	if (m.method == HBA_CERT && m.clientcert != HBA_CLIENTCERT_FULL)
		BUG("hba_find: cert without verify-full (line %d)", m.line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct hba_rules *r = NULL;
	size_t lines = 1;

	log_set_level(LOG_LVL_ERROR);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	if (!hba_parse((const char *)data, size, "fuzz.conf", &r, err, sizeof err)) {
		if (r || strncmp(err, "fuzz.conf", 9) != 0)
			BUG("hba_parse failed without a clean result: %s", err);
		return 0;
	}
	if (hba_count(r) == 0 || hba_count(r) > lines)
		BUG("hba_count %zu for %zu lines", hba_count(r), lines);
	for (int tls = 0; tls < 2; tls++) {
		query(r, lines, HBA_CONN_LOCAL, tls, NULL, "postgres", "postgres");
		query(r, lines, HBA_CONN_TCP, tls, "127.0.0.1", "app", "alice");
		query(r, lines, HBA_CONN_TCP, tls, "10.1.2.3", "all", "all");
		query(r, lines, HBA_CONN_TCP, tls, "::1", "replication", "bob");
		query(r, lines, HBA_CONN_TCP, tls, "::ffff:192.168.0.1", "a b", "a,b");
		query(r, lines, HBA_CONN_TCP, tls, NULL, "", "");
	}
	struct hba_match cc = hba_find_clientcert(r);
	if (cc.line < 0 || (size_t)cc.line > lines || (cc.line == 0) != (cc.clientcert == HBA_CLIENTCERT_OFF) ||
	    (cc.line == 0 && cc.method != HBA_REJECT))
		BUG("hba_find_clientcert: line %d method %d clientcert %d", cc.line, (int)cc.method,
		    (int)cc.clientcert);
	hba_free(r);
	return 0;
}
