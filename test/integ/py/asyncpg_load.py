#!/usr/bin/python3
"""asyncpg through a pooler in transaction mode: executemany, prepared
statements, copy_records_to_table and large values, checked end to end.

Run by test/integ/33-asyncpg.t with Debian's /usr/bin/python3
(python3-asyncpg). Connection from the libpq environment (PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE). Table items (id int primary key, t text,
n numeric, ts timestamptz, j jsonb, b bytea) must exist and be empty.

--connections connections at once (asyncio.gather; more than the
pooler's pool), default statement cache on. asyncpg prepares every query
(named statements), binds binary and caches row descriptions, so each
connection's statements are checked for the right rows of the right types.
Connection c, for each of --iterations rounds k (ids c * 100000 + k * 1000
+ r):
  1. executemany of 50 small rows (every tenth all NULL but the key);
  2. a prepared statement (conn.prepare) fetched for 20 ids, with
     parameters, and fetchrow/fetchval through the statement cache;
  3. a transaction (conn.transaction) inserting one row with a
     1,000,000-character multibyte text and a 4 KB bytea with every byte
     value, read back inside and after it;
  4. aggregates of the round's rows.
Then, once per connection, copy_records_to_table of 200 rows (one large)
and a read back of them. The rows, and how they are compared, come from
clientdata.py (shared with psycopg_load.py).

Every await is bounded (asyncio.wait_for); --deadline bounds the whole
run. Prints "asyncpg: OK ... checked=N" and exits 0, or "asyncpg:
FAILED ..." and exits 1 (2 on a hang).
"""

import argparse
import asyncio
import decimal
import json
import os
import sys
import time

import asyncpg

from clientdata import COLS, Tally, big_row, diff, small_row

LIB = 'asyncpg'
STEP = 30   # seconds any single await may take


def wire(row):
    """asyncpg sends jsonb as text unless a codec is set: json.dumps it."""
    return tuple(json.dumps(v) if isinstance(v, dict) else v for v in row)


def from_record(r):
    return tuple(json.loads(v) if k == 'j' and v is not None else v for k, v in zip(COLS, r))


def exact_sum(xs):
    with decimal.localcontext(decimal.Context(prec=200)):
        return sum(xs)


async def bounded(aw):
    return await asyncio.wait_for(aw, STEP)


SELECT = 'SELECT id, t, n, ts, j, b FROM items WHERE id = $1'
INSERT = 'INSERT INTO items (id, t, n, ts, j, b) VALUES ($1, $2, $3, $4, $5, $6)'


async def round_(conn, c, k, tally):
    base = c * 100000 + k * 1000
    tag = f'connection {c} round {k}'
    small = {base + r: small_row(base + r) for r in range(1, 51)}

    tally.step[c] = f'round {k}: executemany of 50 rows'
    await bounded(conn.executemany(INSERT, [wire(r) for r in small.values()]))

    tally.step[c] = f'round {k}: prepared statement'
    stmt = await bounded(conn.prepare(SELECT))
    for r in range(20):
        rid = base + 1 + (r * 7 + c) % 50
        got = await bounded(stmt.fetch(rid))
        tally.check(f'{tag}: prepared fetch of {rid}', [from_record(x) for x in got], [small[rid]],
                    lambda g, w: '' if len(g) == 1 and not diff(g[0], w[0]) else
                    (diff(g[0], w[0]) if g else 'no row'))
    # the same text through the statement cache, and other shapes
    rid = base + 2
    got = await bounded(conn.fetchrow(SELECT, rid))
    tally.check(f'{tag}: cached fetchrow of {rid}', from_record(got) if got else None, small[rid], diff)
    tally.check(f'{tag}: fetchval', await bounded(conn.fetchval(
        'SELECT count(*) FROM items WHERE id BETWEEN $1 AND $2', base, base + 999)), 50)
    tally.check(f'{tag}: types', tuple(await bounded(conn.fetchrow(
        'SELECT $1::int + 1, $2::text, $3::numeric * 2, $4::bigint', k, '\u00fc\u20ac', decimal.Decimal('1.25'),
        2 ** 40 + c))), (k + 1, '\u00fc\u20ac', decimal.Decimal('2.50'), 2 ** 40 + c))

    tally.step[c] = f'round {k}: transaction with a large row'
    big = big_row(base)
    async with conn.transaction():
        await bounded(conn.execute(INSERT, *wire(big)))
        got = await bounded(conn.fetchrow(SELECT, base))
        tally.check(f'{tag}: large row inside the transaction', from_record(got) if got else None, big, diff)
    got = await bounded(conn.fetchrow(SELECT, base))
    tally.check(f'{tag}: large row after COMMIT', from_record(got) if got else None, big, diff)

    tally.step[c] = f'round {k}: aggregates'
    rows = [big] + list(small.values())
    got = await bounded(conn.fetchrow(
        'SELECT count(*), sum(id), sum(length(t)), count(n), sum(octet_length(b)), sum(n) '
        'FROM items WHERE id BETWEEN $1 AND $2', base, base + 999))
    want = (51, sum(r[0] for r in rows), sum(len(r[1]) for r in rows if r[1] is not None),
            sum(1 for r in rows if r[2] is not None), sum(len(r[5]) for r in rows if r[5] is not None),
            exact_sum(r[2] for r in rows if r[2] is not None))
    tally.check(f'{tag}: aggregates', tuple(got), want)


async def copy_round(conn, c, tally):
    base = c * 100000 + 99000
    rows = [big_row(base)] + [small_row(base + r) for r in range(1, 200)]
    tally.step[c] = 'copy_records_to_table'
    res = await bounded(conn.copy_records_to_table(
        'items', records=[wire(r) for r in rows], columns=list(COLS)))
    tally.check(f'connection {c}: copy_records_to_table status', res, f'COPY {len(rows)}')
    got = await bounded(conn.fetch('SELECT id, t, n, ts, j, b FROM items WHERE id BETWEEN $1 AND $2 '
                                   'ORDER BY id', base, base + 999))
    tally.check(f'connection {c}: copied rows read back', len(got), len(rows))
    for g, w in zip(got, rows):
        tally.check(f'connection {c}: copied row {w[0]}', from_record(g), w, diff)


async def connection(c, n_iter, tally):
    tally.step[c] = 'connect'
    try:
        conn = await bounded(asyncpg.connect(timeout=STEP))
        try:
            for k in range(n_iter):
                await round_(conn, c, k, tally)
            await copy_round(conn, c, tally)
            tally.step[c] = 'done'
        finally:
            await asyncio.wait_for(conn.close(), 10)
    except asyncio.TimeoutError:
        tally.errors.append(f'connection {c}: hang: no answer for {STEP}s at {tally.step[c]}')
    except Exception as e:  # report every failure, not just the first
        lines = str(e).splitlines()
        tally.errors.append(f'connection {c} at {tally.step[c]}: {type(e).__name__}: '
                            f'{lines[0] if lines else ""}')


async def run(a, tally):
    await asyncio.wait_for(
        asyncio.gather(*(connection(c, a.iterations, tally) for c in range(a.connections))), a.deadline)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--connections', type=int, default=8)
    ap.add_argument('--iterations', type=int, default=10)
    ap.add_argument('--deadline', type=float, default=60)
    a = ap.parse_args()
    tally = Tally()
    t0 = time.monotonic()
    try:
        asyncio.run(run(a, tally))
    except asyncio.TimeoutError:
        print(f'{LIB}: FAILED: hang: still running after {a.deadline:.0f}s ({tally.checked} checked)')
        for c, s in sorted(tally.step.items()):
            if s != 'done':
                print(f'  connection {c} at {s}')
        sys.stdout.flush()
        os._exit(2)
    if tally.errors:
        print(f'{LIB}: FAILED: {len(tally.errors)} errors after {tally.checked} checked results')
        for e in tally.errors[:15]:
            print(f'  {e}')
        return 2 if any('hang' in e for e in tally.errors) else 1
    print(f'{LIB}: OK connections={a.connections} iterations={a.iterations} '
          f'seconds={time.monotonic() - t0:.1f} checked={tally.checked}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
