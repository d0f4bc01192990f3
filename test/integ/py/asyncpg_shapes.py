#!/usr/bin/python3
"""asyncpg's cached statements across a schema change, through sluice.

Run by test/integ/38-statement-shapes.t with Debian's /usr/bin/python3
(python3-asyncpg, python3-psycopg). Arguments: --app DSN (the pool under
test), --migrator DSN (a gate bypass user, owner of the tables),
--console DSN (sluice's admin console), --db NAME (the database the
console pauses), --how gate|reconnect, --clients N.

For each change -- a column's type (int to text), a column dropped under
`select *`, a column added under `select *` -- N connections (statement
cache on: asyncpg prepares each query as a named statement, reads results
in binary and keeps the row description it was told) run the query until
it is cached, then the change runs: inside a gate window (PAUSE, the DDL
as the bypass user, RESUME) or followed by RECONNECT. Then every
connection runs the same query again. Each call after the change must
return the new, correct row, or fail with 0A000 ("cached plan must not
change result type"), after which the next call returns the new row.
Anything else -- another error, a row of the old shape, bytes read as the
wrong type -- is a failure.

Prints "shapes: OK ..." and exits 0, or the failures and exits 1.
"""

import argparse
import asyncio
import sys

import asyncpg
import psycopg

CHANGES = {
    # name: (create, query, rows before, DDL, row after)
    'type': ("CREATE TABLE {t} (id int PRIMARY KEY, val int); INSERT INTO {t} VALUES (1, 1), (2, 2)",
             "SELECT id, val FROM {t} WHERE id = $1",
             lambda i: (i, i),
             "ALTER TABLE {t} ALTER COLUMN val TYPE text USING 'v' || val::text",
             lambda i: (i, 'v%d' % i)),
    'drop': ("CREATE TABLE {t} (id int PRIMARY KEY, val int, extra bigint); "
             "INSERT INTO {t} VALUES (1, 1, 100), (2, 2, 200)",
             "SELECT * FROM {t} WHERE id = $1",
             lambda i: (i, i, 100 * i),
             "ALTER TABLE {t} DROP COLUMN extra",
             lambda i: (i, i)),
    'add': ("CREATE TABLE {t} (id int PRIMARY KEY, val int); INSERT INTO {t} VALUES (1, 1), (2, 2)",
            "SELECT * FROM {t} WHERE id = $1",
            lambda i: (i, i),
            "ALTER TABLE {t} ADD COLUMN note text DEFAULT 'n'",
            lambda i: (i, i, 'n')),
}


def console(dsn, command):
    conn = psycopg.pq.PGconn.connect(dsn.encode())
    if conn.status != psycopg.pq.ConnStatus.OK:
        raise RuntimeError('console: ' + conn.error_message.decode())
    res = conn.exec_(command.encode())
    ok = res.status in (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK)
    msg = conn.error_message.decode()
    conn.finish()
    if not ok:
        raise RuntimeError('console %s: %s' % (command, msg))


async def run_change(args, name, failures, counts):
    create, query, before, ddl, after = CHANGES[name]
    table = 'shape_%s_%s' % (name, args.how)
    mig = await asyncpg.connect(args.migrator, statement_cache_size=0)
    await mig.execute('DROP TABLE IF EXISTS %s' % table)
    await mig.execute(create.format(t=table))
    await mig.execute('GRANT ALL ON %s TO PUBLIC' % table)
    q = query.format(t=table)
    conns = [await asyncpg.connect(args.app) for _ in range(args.clients)]

    async def warm(k, conn):
        for n in range(3):
            i = 1 + (k + n) % 2
            row = await conn.fetchrow(q, i)
            if tuple(row) != before(i):
                failures.append('%s: before the change, client %d got %r, not %r'
                                % (name, k, tuple(row), before(i)))
    await asyncio.gather(*(warm(k, c) for k, c in enumerate(conns)))

    if args.how == 'gate':
        console(args.console, 'PAUSE %s' % args.db)
        await mig.execute(ddl.format(t=table))
        console(args.console, 'RESUME %s' % args.db)
    else:
        await mig.execute(ddl.format(t=table))
        console(args.console, 'RECONNECT %s' % args.db)

    async def check(k, conn):
        for n in range(3):
            i = 1 + (k + n) % 2
            got = None
            for attempt in range(2):
                try:
                    row = await conn.fetchrow(q, i)
                    got = tuple(row)
                    break
                except (asyncpg.exceptions.FeatureNotSupportedError,
                        asyncpg.exceptions.InvalidCachedStatementError) as e:
                    if e.sqlstate != '0A000' or attempt == 1:
                        failures.append('%s: client %d call %d: %s %s'
                                        % (name, k, n, e.sqlstate, e))
                        return
                    counts['0A000'] += 1
                except Exception as e:
                    failures.append('%s: client %d call %d: %s: %s'
                                    % (name, k, n, type(e).__name__, e))
                    return
            if got != after(i):
                failures.append('%s: after the change, client %d call %d got %r, not %r'
                                % (name, k, n, got, after(i)))
                return
            counts['rows'] += 1
    await asyncio.gather(*(check(k, c) for k, c in enumerate(conns)))
    for c in conns:
        await c.close()
    await mig.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--app', required=True)
    ap.add_argument('--migrator', required=True)
    ap.add_argument('--console', required=True)
    ap.add_argument('--db', required=True)
    ap.add_argument('--how', choices=('gate', 'reconnect'), required=True)
    ap.add_argument('--clients', type=int, default=5)
    ap.add_argument('--changes', default='type,drop,add')
    args = ap.parse_args()
    failures, counts = [], {'rows': 0, '0A000': 0}
    for name in args.changes.split(','):
        await run_change(args, name, failures, counts)
    if failures:
        print('shapes: FAILED')
        for f in failures[:20]:
            print('  ' + f)
        return 1
    print('shapes: OK %d rows after the changes, %d calls got 0A000 and recovered'
          % (counts['rows'], counts['0A000']))
    return 0


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
