/*
 * hba.c — auth_hba_file (pg_hba.conf): a realistic file, first match wins,
 * connection types against the TLS flag, IPv4/IPv6 CIDR and mask-column
 * edges, lists and quoting, keywords, continuation lines, options, and an
 * exact "file:line: reason" for every unsupported or malformed construct,
 * and the first record that needs a client certificate.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hba.h"
#include "log.h"
#include "tap.h"

#define OFF  HBA_CLIENTCERT_OFF
#define CA   HBA_CLIENTCERT_CA
#define FULL HBA_CLIENTCERT_FULL

/* conn: 'l' local, 't' TCP, 's' TCP with TLS; ip NULL: no address */
struct query {
	char conn;
	const char *ip, *db, *user;
	enum hba_method method;
	int line;
	enum hba_clientcert cc;
};

static struct hba_match find(const struct hba_rules *r, const struct query *q)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (q->ip && inet_pton(AF_INET, q->ip, &a4->sin_addr) == 1)
		a4->sin_family = AF_INET;
	else if (q->ip && inet_pton(AF_INET6, q->ip, &a6->sin6_addr) == 1)
		a6->sin6_family = AF_INET6;
	else if (q->ip)
		BUG("bad test address %s", q->ip);
	return hba_find(r, q->conn == 'l' ? HBA_CONN_LOCAL : HBA_CONN_TCP, q->conn == 's',
			q->ip ? (struct sockaddr *)&ss : NULL, q->db, q->user);
}

static void check(const struct hba_rules *r, const struct query *q, const char *what)
{
	struct hba_match m = find(r, q);

	if (!ok(m.method == q->method && m.line == q->line && m.clientcert == q->cc,
		"%s: %c %s %s/%s -> %s line %d", what, q->conn, q->ip ? q->ip : "-",
		q->db ? q->db : "(null)", q->user ? q->user : "(null)",
		hba_method_name(q->method), q->line))
		diag("got %s line %d clientcert %d", hba_method_name(m.method), m.line, (int)m.clientcert);
}

/* initdb's pg_hba.conf (with -A trust), then what a site adds. */
static const char realistic[] =
	"# PostgreSQL Client Authentication Configuration File\n"                          /* 1 */
	"# TYPE  DATABASE        USER            ADDRESS                 METHOD\n"         /* 2 */
	"\n"                                                                                /* 3 */
	"# \"local\" is for Unix domain socket connections only\n"                         /* 4 */
	"local   all             postgres                                trust\n"           /* 5 */
	"local   sameuser        all                                     md5\n"             /* 6 */
	"local   all             all                                     scram-sha-256\n"   /* 7 */
	"# IPv4 local connections:\n"                                                       /* 8 */
	"host    all             all             127.0.0.1/32            trust\n"           /* 9 */
	"# IPv6 local connections:\n"                                                       /* 10 */
	"host    all             all             ::1/128                 trust\n"           /* 11 */
	"# Allow replication connections from localhost, by a user with the\n"             /* 12 */
	"# replication privilege.\n"                                                        /* 13 */
	"local   replication     all                                     trust\n"           /* 14 */
	"host    replication     all             127.0.0.1/32            trust\n"           /* 15 */
	"host    replication     all             ::1/128                 trust\n"           /* 16 */
	"# the office: TLS with a certificate, or nothing\n"                                /* 17 */
	"hostssl all             all             192.168.12.0/24         cert\n"            /* 18 */
	"hostnossl all           all             192.168.12.0/24         reject\n"          /* 19 */
	"hostssl \"app db\",\"a,b\" alice,bob      10.0.0.0 255.0.0.0      scram-sha-256 \\\n" /* 20 */
	"        clientcert=verify-ca\n"                                                     /* 21 */
	"host    app,\"all\"       \"all\"           10.0.0.0/8              password\n"    /* 22 */
	"host    all             guest           0.0.0.0/0               password  # anyone\n" /* 23 */
	"host    all             all             fd00::/8                scram-sha-256\n"   /* 24 */
	"hostgssenc all          all             all                     trust\n"           /* 25 */
	"hostnogssenc all        mallory         all                     reject\n"          /* 26 */
	"host    all             all             all                     md5\n";            /* 27 */

static const struct query realistic_q[] = {
	{ 'l', NULL, "postgres", "postgres", HBA_TRUST, 5, OFF },
	{ 'l', NULL, "alice", "alice", HBA_MD5, 6, OFF },              /* sameuser */
	{ 'l', NULL, "app", "alice", HBA_SCRAM, 7, OFF },
	{ 'l', NULL, "replication", "alice", HBA_SCRAM, 7, OFF },      /* the keyword never matches */
	{ 't', "127.0.0.1", "app", "alice", HBA_TRUST, 9, OFF },
	{ 's', "127.0.0.1", "app", "alice", HBA_TRUST, 9, OFF },
	{ 't', "::1", "app", "alice", HBA_TRUST, 11, OFF },
	{ 't', "::ffff:127.0.0.1", "app", "alice", HBA_MD5, 27, OFF }, /* IPv6, as in PostgreSQL */
	{ 't', "127.0.0.2", "app", "alice", HBA_MD5, 27, OFF },
	{ 's', "192.168.12.7", "app", "alice", HBA_CERT, 18, FULL },
	{ 't', "192.168.12.7", "app", "alice", HBA_REJECT, 19, OFF },
	{ 't', "192.168.13.7", "app", "alice", HBA_MD5, 27, OFF },
	{ 's', "10.1.2.3", "app db", "bob", HBA_SCRAM, 20, CA },
	{ 's', "10.255.255.255", "a,b", "alice", HBA_SCRAM, 20, CA },
	{ 's', "10.1.2.3", "a", "alice", HBA_MD5, 27, OFF },
	{ 's', "11.1.2.3", "app db", "bob", HBA_MD5, 27, OFF },
	{ 't', "10.1.2.3", "app db", "bob", HBA_MD5, 27, OFF },        /* not TLS */
	{ 't', "10.1.2.3", "app", "all", HBA_PASSWORD, 22, OFF },
	{ 't', "10.1.2.3", "all", "all", HBA_PASSWORD, 22, OFF },
	{ 't', "10.1.2.3", "all", "carol", HBA_MD5, 27, OFF },         /* "all" is a name */
	{ 't', "10.1.2.3", "other", "all", HBA_MD5, 27, OFF },
	{ 't', "203.0.113.9", "app", "guest", HBA_PASSWORD, 23, OFF },
	{ 't', "::2", "app", "guest", HBA_MD5, 27, OFF },
	{ 't', "fd12:3456::1", "app", "alice", HBA_SCRAM, 24, OFF },
	{ 's', "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "x", "y", HBA_SCRAM, 24, OFF },
	{ 't', "fe80::1", "app", "mallory", HBA_REJECT, 26, OFF },     /* hostnogssenc matches */
	{ 's', "198.51.100.1", "app", "mallory", HBA_REJECT, 26, OFF },
	{ 't', "fe80::1", "app", "alice", HBA_MD5, 27, OFF },
	{ 't', NULL, "app", "alice", HBA_MD5, 27, OFF },               /* no address: "all" only */
};

/* Small files, one query each. */
static const struct { const char *text; struct query q; } cases[] = {
	/* first match wins */
	{ "host all all all reject\nhost all all all trust\n", { 't', "1.2.3.4", "d", "u", HBA_REJECT, 1, OFF } },
	{ "host all bob all reject\nhost all all all trust\n", { 't', "1.2.3.4", "d", "alice", HBA_TRUST, 2, OFF } },
	{ "host all all 10.0.0.0/8 trust\n", { 't', "11.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	/* connection types against the client's side */
	{ "local all all trust\n", { 'l', NULL, "d", "u", HBA_TRUST, 1, OFF } },
	{ "local all all trust\n", { 't', "127.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all all trust\n", { 'l', NULL, "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all all trust\n", { 't', "127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all all trust\n", { 's', "127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "hostssl all all all trust\n", { 't', "127.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	{ "hostssl all all all trust\n", { 's', "127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "hostssl all all all trust\n", { 'l', NULL, "d", "u", HBA_REJECT, 0, OFF } },
	{ "hostnossl all all all trust\n", { 't', "127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "hostnossl all all all trust\n", { 's', "127.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	{ "hostgssenc all all all trust\n", { 't', "127.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	{ "hostgssenc all all all trust\n", { 's', "127.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	{ "hostnogssenc all all all trust\n", { 't', "127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "hostnogssenc all all all trust\n", { 's', "::1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "hostnogssenc all all all trust\n", { 'l', NULL, "d", "u", HBA_REJECT, 0, OFF } },
	{ "\"host\" all all all trust\n", { 't', "127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	/* IPv4 CIDR */
	{ "host all all 0.0.0.0/0 trust\n", { 't', "255.255.255.255", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 0.0.0.0/0 trust\n", { 't', "::1", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 10.1.2.3/0 trust\n", { 't', "192.0.2.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 10.1.2.3/32 trust\n", { 't', "10.1.2.3", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 10.1.2.3/32 trust\n", { 't', "10.1.2.4", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 10.1.2.3/31 trust\n", { 't', "10.1.2.2", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 10.1.2.3/31 trust\n", { 't', "10.1.2.4", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 10.0.0.0/7 trust\n", { 't', "11.255.255.255", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 10.0.0.0/7 trust\n", { 't', "12.0.0.0", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 127.0.0.1/32 trust\n", { 't', "::ffff:127.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	/* IPv6 CIDR */
	{ "host all all ::/0 trust\n", { 't', "1.2.3.4", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all ::/0 trust\n", { 't', "ffff::ffff", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all ::1/128 trust\n", { 't', "::1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all ::1/128 trust\n", { 't', "::", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 2001:db8::/32 trust\n", { 't', "2001:db8:ffff::1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 2001:db8::/32 trust\n", { 't', "2001:db9::", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 2001:db8:0:0:8000::/65 trust\n", { 't', "2001:db8::ffff:0:0:1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 2001:db8:0:0:8000::/65 trust\n", { 't', "2001:db8::7fff:0:0:1", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all ::ffff:127.0.0.1/128 trust\n", { 't', "::ffff:127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all ::ffff:127.0.0.1/128 trust\n", { 't', "127.0.0.1", "d", "u", HBA_REJECT, 0, OFF } },
	/* address and mask columns */
	{ "host all all 127.0.0.1 255.255.255.255 trust\n", { 't', "127.0.0.1", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 127.0.0.1 255.255.255.255 trust\n", { 't', "127.0.0.2", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 192.168.0.0 255.255.0.0 trust\n", { 't', "192.168.200.5", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all 192.168.0.0 255.255.0.0 trust\n", { 't', "192.169.0.0", "d", "u", HBA_REJECT, 0, OFF } },
	{ "host all all 0.0.0.0 0.0.0.0 trust\n", { 't', "8.8.8.8", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all fe80:: ffff:ffff:ffff:ffff:: trust\n", { 't', "fe80::abcd", "d", "u", HBA_TRUST, 1, OFF } },
	{ "host all all fe80:: ffff:ffff:ffff:ffff:: trust\n", { 't', "fe81::", "d", "u", HBA_REJECT, 0, OFF } },
	/* database and user lists, quoting, keywords */
	{ "host a,b,c x,y all md5\n", { 't', "1.2.3.4", "b", "y", HBA_MD5, 1, OFF } },
	{ "host a,b,c x,y all md5\n", { 't', "1.2.3.4", "d", "y", HBA_REJECT, 0, OFF } },
	{ "host a,b,c x,y all md5\n", { 't', "1.2.3.4", "c", "z", HBA_REJECT, 0, OFF } },
	{ "host a,  b all all md5\n", { 't', "1.2.3.4", "b", "u", HBA_MD5, 1, OFF } },
	{ "local a,,b, c all md5\n", { 'l', NULL, "c", "u", HBA_MD5, 1, OFF } },   /* "b," goes on */
	{ "local \"my db\",\"x,y\" \"o'neil\",\"a b\" md5\n", { 'l', NULL, "x,y", "a b", HBA_MD5, 1, OFF } },
	{ "local \"my db\",\"x,y\" \"o'neil\",\"a b\" md5\n", { 'l', NULL, "my db", "o'neil", HBA_MD5, 1, OFF } },
	{ "local \"my db\",\"x,y\" \"o'neil\",\"a b\" md5\n", { 'l', NULL, "x", "a b", HBA_REJECT, 0, OFF } },
	{ "local \"a\"\"b\" all md5\n", { 'l', NULL, "a\"b", "u", HBA_MD5, 1, OFF } },
	{ "local x\"y z\"w all md5\n", { 'l', NULL, "xy zw", "u", HBA_MD5, 1, OFF } },
	{ "local \"\" all md5\n", { 'l', NULL, "", "u", HBA_MD5, 1, OFF } },
	{ "local \"a#b\" all trust # comment\n", { 'l', NULL, "a#b", "u", HBA_TRUST, 1, OFF } },
	{ "local all all trust#comment\n", { 'l', NULL, "d", "u", HBA_TRUST, 1, OFF } },
	{ "local \"all\" all trust\n", { 'l', NULL, "all", "u", HBA_TRUST, 1, OFF } },
	{ "local \"all\" all trust\n", { 'l', NULL, "app", "u", HBA_REJECT, 0, OFF } },
	{ "local all \"all\" trust\n", { 'l', NULL, "app", "all", HBA_TRUST, 1, OFF } },
	{ "local all \"all\" trust\n", { 'l', NULL, "app", "u", HBA_REJECT, 0, OFF } },
	{ "local all all trust\n", { 'l', NULL, NULL, NULL, HBA_TRUST, 1, OFF } },
	{ "local app u trust\n", { 'l', NULL, NULL, NULL, HBA_REJECT, 0, OFF } },
	{ "local sameuser all trust\n", { 'l', NULL, "alice", "alice", HBA_TRUST, 1, OFF } },
	{ "local sameuser all trust\n", { 'l', NULL, "app", "alice", HBA_REJECT, 0, OFF } },
	{ "local \"sameuser\" all trust\n", { 'l', NULL, "sameuser", "x", HBA_TRUST, 1, OFF } },
	{ "local all sameuser trust\n", { 'l', NULL, "sameuser", "sameuser", HBA_TRUST, 1, OFF } },
	{ "local all sameuser trust\n", { 'l', NULL, "alice", "alice", HBA_REJECT, 0, OFF } },
	{ "local replication all trust\n", { 'l', NULL, "replication", "u", HBA_REJECT, 0, OFF } },
	{ "local \"replication\" all trust\n", { 'l', NULL, "replication", "u", HBA_TRUST, 1, OFF } },
	{ "local replication,app all trust\n", { 'l', NULL, "app", "u", HBA_TRUST, 1, OFF } },
	{ "local @ all trust\n", { 'l', NULL, "@", "u", HBA_TRUST, 1, OFF } },
	{ "local \"@dbs\" \"+admins\" trust\n", { 'l', NULL, "@dbs", "+admins", HBA_TRUST, 1, OFF } },
	{ "local \"samerole\" all trust\n", { 'l', NULL, "samerole", "u", HBA_TRUST, 1, OFF } },
	{ "local App all trust\n", { 'l', NULL, "app", "u", HBA_REJECT, 0, OFF } },
	{ "local a\\b all trust\n", { 'l', NULL, "a\\b", "u", HBA_TRUST, 1, OFF } },
	{ ",,,,\n\t \r\nlocal all all trust\n", { 'l', NULL, "d", "u", HBA_TRUST, 3, OFF } },
	/* continuation lines: joined as is, numbered by their first line */
	{ "local all \\\n all trust\n", { 'l', NULL, "d", "u", HBA_TRUST, 1, OFF } },
	{ "local all al\\\nl trust\n", { 'l', NULL, "d", "u", HBA_TRUST, 1, OFF } },
	{ "local \"a \\\nb\" all trust\n", { 'l', NULL, "a b", "u", HBA_TRUST, 1, OFF } },
	{ "\n\nlocal \\\nall \\\r\nall \\\ntrust\r\nlocal all all md5\n", { 'l', NULL, "d", "u", HBA_TRUST, 3, OFF } },
	{ "local x all trust\n# a comment \\\nlocal all all md5\nlocal all all password\n", { 'l', NULL, "d", "u", HBA_PASSWORD, 4, OFF } },
	{ "local all all trust \\", { 'l', NULL, "d", "u", HBA_TRUST, 1, OFF } },
	{ "local all all trust", { 'l', NULL, "d", "u", HBA_TRUST, 1, OFF } },
	{ "local x all trust\r\nlocal all all md5\r\n", { 'l', NULL, "d", "u", HBA_MD5, 2, OFF } },
	{ "\xEF\xBB\xBFlocal all all md5\n", { 'l', NULL, "d", "u", HBA_MD5, 1, OFF } },
	/* methods and options */
	{ "host all all all password\n", { 't', "1.2.3.4", "d", "u", HBA_PASSWORD, 1, OFF } },
	{ "host all all all scram-sha-256\n", { 't', "1.2.3.4", "d", "u", HBA_SCRAM, 1, OFF } },
	{ "hostssl all all all md5 clientcert=verify-full\n", { 's', "1.2.3.4", "d", "u", HBA_MD5, 1, FULL } },
	{ "hostssl all all all trust clientcert=verify-ca clientname=CN\n", { 's', "1.2.3.4", "d", "u", HBA_TRUST, 1, CA } },
	{ "hostssl all all all md5 clientcert=verify-ca,clientcert=verify-full\n", { 's', "1.2.3.4", "d", "u", HBA_MD5, 1, FULL } },
	{ "hostssl all all all md5 \"clientcert=verify-ca\"\n", { 's', "1.2.3.4", "d", "u", HBA_MD5, 1, CA } },
	{ "hostssl all all all cert\n", { 's', "1.2.3.4", "d", "u", HBA_CERT, 1, FULL } },
	{ "hostssl all all all cert clientcert=verify-full clientname=CN\n", { 's', "1.2.3.4", "d", "u", HBA_CERT, 1, FULL } },
	{ "hostssl all all all reject\nhost all all all trust\n", { 's', "1.2.3.4", "d", "u", HBA_REJECT, 1, OFF } },
};

static const struct { const char *text, *err; } bad[] = {
	/* nothing to match */
	{ "", "h.conf: contains no entries (every connection would be rejected)" },
	{ "# only comments\n\n   \n", "h.conf: contains no entries (every connection would be rejected)" },
	{ "# comment \\\nlocal all all trust\n", "h.conf: contains no entries (every connection would be rejected)" },
	/* unsupported constructs */
	{ "local all all trust\nlocal samerole all trust\n",
	  "h.conf:2: \"samerole\" is not supported (sluice cannot resolve role membership)" },
	{ "local samegroup all trust\n", "h.conf:1: \"samegroup\" is not supported (sluice cannot resolve role membership)" },
	{ "local all bob,+admins trust\n",
	  "h.conf:1: \"+admins\": group membership (+group) is not supported (sluice cannot resolve role membership)" },
	{ "local all + trust\n",
	  "h.conf:1: \"+\": group membership (+group) is not supported (sluice cannot resolve role membership)" },
	{ "local @dbs.txt all trust\n", "h.conf:1: \"@dbs.txt\": file inclusion (@file) is not supported" },
	{ "local all @users trust\n", "h.conf:1: \"@users\": file inclusion (@file) is not supported" },
	{ "host all all samehost trust\n", "h.conf:1: \"samehost\" is not supported (use an IP address or CIDR range)" },
	{ "host all all samenet trust\n", "h.conf:1: \"samenet\" is not supported (use an IP address or CIDR range)" },
	{ "host all all db.example.com trust\n",
	  "h.conf:1: host name \"db.example.com\" is not supported yet (use an IP address or CIDR range)" },
	{ "host all all .example.com trust\n",
	  "h.conf:1: host name \".example.com\" is not supported yet (use an IP address or CIDR range)" },
	{ "host all all \"all\" trust\n",
	  "h.conf:1: host name \"all\" is not supported yet (use an IP address or CIDR range)" },
	{ "host all all db.example.com/24 trust\n",
	  "h.conf:1: specifying both host name and CIDR mask is invalid: \"db.example.com/24\"" },
	{ "local all all peer\n", "h.conf:1: authentication method \"peer\" is not supported" },
	{ "host all all all ident\n", "h.conf:1: authentication method \"ident\" is not supported" },
	{ "host all all all gss\n", "h.conf:1: authentication method \"gss\" is not supported" },
	{ "host all all all sspi\n", "h.conf:1: authentication method \"sspi\" is not supported" },
	{ "host all all all pam pamservice=x\n", "h.conf:1: authentication method \"pam\" is not supported" },
	{ "host all all all bsd\n", "h.conf:1: authentication method \"bsd\" is not supported" },
	{ "host all all all ldap ldapserver=x\n", "h.conf:1: authentication method \"ldap\" is not supported" },
	{ "host all all all radius\n", "h.conf:1: authentication method \"radius\" is not supported" },
	{ "hostssl all all all cert map=certmap\n",
	  "h.conf:1: authentication option \"map\" is not supported (no user name maps)" },
	{ "hostssl all all all cert clientname=DN\n", "h.conf:1: clientname=DN is not supported (only CN)" },
	{ "include other.conf\n", "h.conf:1: \"include\" directives are not supported" },
	{ "include_dir conf.d\n", "h.conf:1: \"include_dir\" directives are not supported" },
	{ "include_if_exists x\n", "h.conf:1: \"include_if_exists\" directives are not supported" },
	/* malformed records */
	{ "foo all all trust\n", "h.conf:1: invalid connection type \"foo\"" },
	{ "HOST all all all trust\n", "h.conf:1: invalid connection type \"HOST\"" },
	{ "host,local all all all trust\n", "h.conf:1: multiple values specified for connection type" },
	{ "local\n", "h.conf:1: end-of-line before database specification" },
	{ "local all # user\n", "h.conf:1: end-of-line before role specification" },
	{ "local all all\n", "h.conf:1: end-of-line before authentication method" },
	{ "host all all\n", "h.conf:1: end-of-line before IP address specification" },
	{ "host all all 10.0.0.0\n", "h.conf:1: end-of-line before netmask specification" },
	{ "host all all 10.0.0.0 trust\n", "h.conf:1: invalid IP mask \"trust\"" },
	{ "host all all 10.0.0.0 255.255.255.0,255.0.0.0 trust\n", "h.conf:1: multiple values specified for netmask" },
	{ "host all all 10.0.0.0 ffff:: trust\n", "h.conf:1: IP address and mask do not match" },
	{ "host all all ::1 255.255.255.255 trust\n", "h.conf:1: IP address and mask do not match" },
	{ "host all all 10.0.0.0/8,10.1.0.0/16 trust\n", "h.conf:1: multiple values specified for host address" },
	{ "host all all 10.0.0.0/33 trust\n", "h.conf:1: invalid CIDR mask in address \"10.0.0.0/33\"" },
	{ "host all all ::/129 trust\n", "h.conf:1: invalid CIDR mask in address \"::/129\"" },
	{ "host all all 10.0.0.0/ trust\n", "h.conf:1: invalid CIDR mask in address \"10.0.0.0/\"" },
	{ "host all all 10.0.0.0/8x trust\n", "h.conf:1: invalid CIDR mask in address \"10.0.0.0/8x\"" },
	{ "host all all 10.0.0.0/-1 trust\n", "h.conf:1: invalid CIDR mask in address \"10.0.0.0/-1\"" },
	{ "host all all 10.0.0.0/8/8 trust\n", "h.conf:1: invalid CIDR mask in address \"10.0.0.0/8/8\"" },
	{ "host all all 300.0.0.1/8 trust\n", "h.conf:1: invalid IP address \"300.0.0.1/8\"" },
	{ "host all all 1.2.3/24 trust\n", "h.conf:1: invalid IP address \"1.2.3/24\"" },
	{ "host all all ::g/64 trust\n", "h.conf:1: invalid IP address \"::g/64\"" },
	{ "host all all fe80::1%eth0 trust\n", "h.conf:1: invalid IP address \"fe80::1%eth0\"" },
	{ "host all all /8 trust\n", "h.conf:1: invalid IP address \"/8\"" },
	{ "local all all md6\n", "h.conf:1: invalid authentication method \"md6\"" },
	{ "local all all TRUST\n", "h.conf:1: invalid authentication method \"TRUST\"" },
	{ "local all all md5,trust\n", "h.conf:1: multiple values specified for authentication type" },
	{ "host a ,b all all md5\n", "h.conf:1: invalid authentication method \"all\"" },
	{ "local all all cert\n", "h.conf:1: cert authentication is only supported on hostssl connections" },
	{ "host all all all cert\n", "h.conf:1: cert authentication is only supported on hostssl connections" },
	{ "hostnossl all all all cert\n", "h.conf:1: cert authentication is only supported on hostssl connections" },
	{ "local all all trust extra\n", "h.conf:1: authentication option not in name=value format: extra" },
	{ "hostssl all all all md5 clientcert\n", "h.conf:1: authentication option not in name=value format: clientcert" },
	{ "host all all all md5 clientcert=verify-ca\n", "h.conf:1: clientcert can only be configured for \"hostssl\" rows" },
	{ "local all all md5 clientcert=verify-full\n", "h.conf:1: clientcert can only be configured for \"hostssl\" rows" },
	{ "hostssl all all all md5 clientcert=1\n", "h.conf:1: invalid value for clientcert: \"1\"" },
	{ "hostssl all all all md5 clientcert=\n", "h.conf:1: invalid value for clientcert: \"\"" },
	{ "hostssl all all all cert clientcert=verify-ca\n",
	  "h.conf:1: clientcert only accepts \"verify-full\" when using \"cert\" authentication" },
	{ "hostssl all all all cert clientname=cn\n", "h.conf:1: invalid value for clientname: \"cn\"" },
	{ "host all all all md5 clientname=CN\n", "h.conf:1: clientname can only be configured for \"hostssl\" rows" },
	{ "host all all all md5 ldapserver=x\n", "h.conf:1: unrecognized authentication option name: \"ldapserver\"" },
	{ "host all all all md5 =x\n", "h.conf:1: unrecognized authentication option name: \"\"" },
	{ "local \"all all trust\n", "h.conf:1: unterminated quoted string" },
	{ "local all all trust\nlocal all \"a\"\"\" \"b trust\n", "h.conf:2: unterminated quoted string" },
	/* line numbers: a record's first line */
	{ "local all all trust\nhost all \\\n all \\\n 1.2.3.4 trust\n", "h.conf:2: invalid IP mask \"trust\"" },
	{ "local all \\\n all trust\nfoo\n", "h.conf:3: invalid connection type \"foo\"" },
	{ "local all all trust\r\n\r\nbar\r\n", "h.conf:3: invalid connection type \"bar\"" },
	/* garbage */
	{ "}{ ][ @@\n", "h.conf:1: invalid connection type \"}{\"" },
	{ "\"\" all all trust\n", "h.conf:1: invalid connection type \"\"" },
	{ "local all all trust\n\x01\x02\x03\n", "h.conf:2: invalid connection type \"\x01\x02\x03\"" },
	{ "local \xff\xfe \"\xc3\xa9\" trust\nlocal\tall\tall\tgarbage\n", "h.conf:2: invalid authentication method \"garbage\"" },
};

/* hba_find_clientcert: the first record needing a client certificate,
 * whatever it matches; line 0 (and reject) when none does. */
static const struct {
	const char *text;
	int line;
	enum hba_method method;
	enum hba_clientcert cc;
} certs[] = {
	{ "local all all trust\nhostssl all all all md5\n", 0, HBA_REJECT, OFF },
	{ "hostssl all all all scram-sha-256 clientcert=verify-ca\n", 1, HBA_SCRAM, CA },
	{ "local all all trust\n# comment\n\nhostssl all all all md5 clientcert=verify-full\n"
	  "hostssl all all all cert\n", 4, HBA_MD5, FULL },
	{ "host all all all reject\nhostssl db u 10.0.0.0/8 \\\n  cert\n", 2, HBA_CERT, FULL },
	{ "hostssl all all all trust clientname=CN\nhostssl all bob all password clientcert=verify-ca\n",
	  2, HBA_PASSWORD, CA },
};

int main(void)
{
	char err[512];
	struct hba_rules *r;

	if (!ok(hba_parse(realistic, sizeof realistic - 1, "pg_hba.conf", &r, err, sizeof err),
		"realistic pg_hba.conf parses"))
		diag("%s", err);
	else {
		is_int(hba_count(r), 17, "  17 records");
		for (size_t i = 0; i < ARRAY_SIZE(realistic_q); i++)
			check(r, &realistic_q[i], "realistic");
		hba_free(r);
	}

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *t = cases[i].text;
		char what[64];
		if (!ok(hba_parse(t, strlen(t), "h.conf", &r, err, sizeof err), "case %zu parses", i)) {
			diag("%s", err);
			continue;
		}
		snprintf(what, sizeof what, "  case %zu", i);
		check(r, &cases[i].q, what);
		hba_free(r);
	}

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = (struct hba_rules *)1;
		err[0] = 0;
		ok(!hba_parse(bad[i].text, strlen(bad[i].text), "h.conf", &r, err, sizeof err) && r == NULL,
		   "fails: %s", bad[i].err);
		is_str(err, bad[i].err, "  message");
	}
	static const char nul[] = "local all all trust\nlocal a\0b all trust\n";
	ok(!hba_parse(nul, sizeof nul - 1, "h.conf", &r, err, sizeof err) && r == NULL, "NUL byte fails");
	is_str(err, "h.conf:2: NUL byte in line", "  message");
	char small[12];
	ok(!hba_parse("bogus\n", 6, "h.conf", &r, small, sizeof small), "short error buffer");
	is_str(small, "h.conf:1: i", "  truncated, terminated");
	ok(!hba_parse("bogus\n", 6, "h.conf", &r, NULL, 0) && r == NULL, "no error buffer at all");

	/* the exact-size buffer: no reliance on a terminating NUL */
	static const char exact[] = "local all all md5";
	char *copy = malloc(sizeof exact - 1);
	memcpy(copy, exact, sizeof exact - 1);
	if (ok(hba_parse(copy, sizeof exact - 1, "h.conf", &r, err, sizeof err), "unterminated input")) {
		is_int(hba_count(r), 1, "  one record");
		hba_free(r);
	}
	free(copy);

	for (size_t i = 0; i < ARRAY_SIZE(certs); i++) {
		const char *t = certs[i].text;
		if (!ok(hba_parse(t, strlen(t), "h.conf", &r, err, sizeof err), "clientcert case %zu parses", i)) {
			diag("%s", err);
			continue;
		}
		struct hba_match cm = hba_find_clientcert(r);
		if (!ok(cm.line == certs[i].line && cm.method == certs[i].method && cm.clientcert == certs[i].cc,
			"  needs a client certificate: line %d %s", certs[i].line, hba_method_name(certs[i].method)))
			diag("got line %d %s clientcert %d", cm.line, hba_method_name(cm.method), (int)cm.clientcert);
		hba_free(r);
	}
	struct hba_match nc = hba_find_clientcert(NULL);
	ok(nc.line == 0 && nc.clientcert == OFF, "NULL rules need no client certificate");

	struct hba_match m = hba_find(NULL, HBA_CONN_LOCAL, false, NULL, "d", "u");
	ok(m.method == HBA_REJECT && m.line == 0 && m.clientcert == OFF, "NULL rules reject");
	is_int(hba_count(NULL), 0, "NULL rules count 0");
	hba_free(NULL);

	static const struct { enum hba_method m; const char *name; } names[] = {
		{ HBA_TRUST, "trust" }, { HBA_REJECT, "reject" }, { HBA_MD5, "md5" },
		{ HBA_SCRAM, "scram-sha-256" }, { HBA_PASSWORD, "password" }, { HBA_CERT, "cert" },
		{ (enum hba_method)7, "unknown" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		is_str(hba_method_name(names[i].m), names[i].name, names[i].name);

	char path[] = "/tmp/sluice-hba-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, realistic, sizeof realistic - 1) != (ssize_t)(sizeof realistic - 1))
		BUG("temp file");
	close(fd);
	if (!ok(hba_load(path, &r, err, sizeof err), "hba_load"))
		diag("%s", err);
	else {
		is_int(hba_count(r), 17, "  17 records");
		check(r, &realistic_q[9], "  loaded");
		hba_free(r);
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, "local all all trust\nhost all all\n", 33) != 33)
		BUG("temp file");
	close(fd);
	ok(!hba_load(path, &r, err, sizeof err) && r == NULL, "hba_load: bad file fails");
	char want[160];
	snprintf(want, sizeof want, "%s:2: end-of-line before IP address specification", path);
	is_str(err, want, "  message names the path");
	unlink(path);
	ok(!hba_load(path, &r, err, sizeof err) && r == NULL, "missing file fails");
	snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
	is_str(err, want, "  message");
	return done_testing();
}
