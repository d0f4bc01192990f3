#!/usr/bin/python3
"""psycopg 3's pipelined executemany with large values, through sluice.

Run by test/integ/38-statement-shapes.t with Debian's /usr/bin/python3
(python3-psycopg). Connection from the environment (PGHOST, PGPORT, ...).
Argument: --rounds N, --table NAME.

Each round: in one transaction, executemany (psycopg's pipeline mode: many
Parse/Bind/Describe/Execute, one Sync, results read late) of 3 rows into
(id int primary key, t text, n numeric, ts timestamptz, j jsonb, b bytea)
carrying a 1,000,000-character text and a 2,560-byte bytea, then of 100
small rows, then two SELECTs; every value is read back and compared.
A Bind that fills sluice's output to the server past its high-water mark
once left the rest of the pipeline unsent: psycopg then waited forever.

Prints "pipeline: OK ..." and exits 0, or the first mismatch and exits 1.
"""
import argparse
import datetime
import decimal
import json
import sys

import psycopg

ap = argparse.ArgumentParser()
ap.add_argument('--rounds', type=int, default=10)
ap.add_argument('--table', default='pipe_t')
args = ap.parse_args()
T = args.table

conn = psycopg.connect('', connect_timeout=20)
conn.autocommit = True
conn.execute('DROP TABLE IF EXISTS %s' % T)
conn.execute('CREATE TABLE %s (id int PRIMARY KEY, t text, n numeric, ts timestamptz, j jsonb, b bytea)' % T)
conn.autocommit = False
ts = datetime.datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=datetime.timezone.utc)
big = ''.join(chr(ord('a') + i % 26) for i in range(1000000))
blob = bytes(range(256)) * 10
for rnd in range(args.rounds):
    base = rnd * 1000
    rows = [(base + 1, big, decimal.Decimal('1.5'), ts, json.dumps({'a': rnd}), blob),
            (base + 2, 'h\u00e9llo \u2603', None, ts, None, b''),
            (base + 3, None, decimal.Decimal(3), None, json.dumps([1, 2]), None)]
    cur = conn.cursor()
    cur.executemany('INSERT INTO %s VALUES (%%s, %%s, %%s, %%s, %%s, %%s)' % T, rows)
    cur.executemany('INSERT INTO %s VALUES (%%s, %%s, %%s, %%s, %%s, %%s)' % T,
                    [(base + 100 + i, 'r%d' % i, i, ts, None, None) for i in range(100)])
    cur.execute('SELECT count(*) FROM %s WHERE id BETWEEN %%s AND %%s' % T, (base, base + 999))
    n = cur.fetchone()[0]
    cur.execute('SELECT id, t, n, ts, j, b FROM %s WHERE id BETWEEN %%s AND %%s ORDER BY id' % T,
                (base + 1, base + 3))
    got = cur.fetchall()
    conn.commit()
    want = [(r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else None, r[5]) for r in rows]
    got = [(g[0], g[1], g[2], g[3], g[4], bytes(g[5]) if g[5] is not None else None) for g in got]
    if n != 103 or got != want:
        print('pipeline: FAILED in round %d: count %d, rows differ: %s' % (rnd, n, got != want))
        sys.exit(1)
print('pipeline: OK %d rounds' % args.rounds)
