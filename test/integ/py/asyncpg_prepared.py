#!/usr/bin/python3
"""asyncpg's named prepared statements through a pooler.

Run by test/integ/15-client-libraries.t with Debian's /usr/bin/python3
(python3-asyncpg). Connection from the environment: PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE. Tables lib_items (id, name = 'item<id>') and
lib_log (id, lib, client, n) must exist.

Each of --clients connections (default statement cache, so asyncpg
prepares every query as a named statement) runs --iterations rounds of
three statements, its rotation of them decided by its number so the
connections prepare in different orders, all connections at once
(asyncio.gather). Then, per connection: an explicit conn.prepare() with a
name shared by every connection but a text of its own, reused inside and
outside transactions; and a connection with a statement cache of 2 that
cycles through 4 queries, so asyncpg closes evicted statements (protocol
Close) and prepares again. Every result is checked.

Prints "asyncpg: OK ..." and exits 0, or prints the first errors and
exits 1.
"""

import argparse
import asyncio
import os
import sys

import asyncpg

LIB = 'asyncpg'


def conn_args():
    return dict(host=os.environ.get('PGHOST', '127.0.0.1'),
                port=int(os.environ.get('PGPORT', '5432')),
                user=os.environ['PGUSER'],
                password=os.environ.get('PGPASSWORD'),
                database=os.environ['PGDATABASE'],
                timeout=30, command_timeout=60)


def first_line(e):
    lines = str(e).splitlines()
    return lines[0] if lines else ''


class Tally:
    def __init__(self):
        self.queries = 0
        self.errors = []

    def check(self, what, got, want):
        self.queries += 1
        if got != want:
            self.errors.append(f'{what}: got {got!r}, want {want!r}')


async def rounds(i, n_iter, tally):
    """The three statements, n_iter times, in this client's rotation."""
    conn = await asyncpg.connect(**conn_args())
    try:
        async def add_one(k):
            tally.check(f'client {i} round {k} add-one',
                        await conn.fetchval('SELECT $1::int + 1', k), k + 1)

        async def item(k):
            item_id = (k * 7 + i) % 100 + 1
            tally.check(f'client {i} round {k} item',
                        await conn.fetchval('SELECT name FROM lib_items WHERE id = $1', item_id),
                        f'item{item_id}')

        async def insert(k):
            row = await conn.fetchrow(
                'INSERT INTO lib_log (lib, client, n) VALUES ($1, $2, $3) RETURNING lib, client, n',
                LIB, i, k)
            tally.check(f'client {i} round {k} insert', tuple(row), (LIB, i, k))

        steps = [add_one, item, insert]
        steps = steps[i % 3:] + steps[:i % 3]
        for k in range(n_iter):
            for step in steps:
                await step(k)
    finally:
        await conn.close()


async def explicit(i, tally):
    """conn.prepare() under a name every client uses, with its own text."""
    conn = await asyncpg.connect(**conn_args())
    try:
        stmt = await conn.prepare(f'SELECT $1::int * 1000 + {i} AS v', name='shared_explicit')
        for t in range(20):
            async with conn.transaction():
                tally.check(f'client {i} explicit in transaction {t}', await stmt.fetchval(t), t * 1000 + i)
                tally.check(f'client {i} explicit again in transaction {t}',
                            await stmt.fetchval(t + 1), (t + 1) * 1000 + i)
            tally.check(f'client {i} explicit outside {t}', await stmt.fetchval(-t), -t * 1000 + i)
    finally:
        await conn.close()


async def evicting(i, tally):
    """A statement cache of 2 and 4 queries: asyncpg closes and re-prepares."""
    conn = await asyncpg.connect(statement_cache_size=2, **conn_args())
    try:
        texts = [f'SELECT $1::int + {d} + 0 * {i}' for d in range(4)]
        for k in range(30):
            d = k % 4
            tally.check(f'client {i} evicting {k}', await conn.fetchval(texts[d], k), k + d)
    finally:
        await conn.close()


async def guarded(coro, what, tally):
    try:
        await coro
    except Exception as e:  # report every failure, not just the first
        tally.errors.append(f'{what}: {type(e).__name__}: {first_line(e)}')


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--clients', type=int, default=8)
    ap.add_argument('--iterations', type=int, default=200)
    a = ap.parse_args()
    tally = Tally()
    await asyncio.gather(*(guarded(rounds(i, a.iterations, tally), f'client {i}', tally)
                           for i in range(a.clients)))
    await asyncio.gather(*(guarded(explicit(i, tally), f'explicit {i}', tally)
                           for i in range(a.clients)))
    await asyncio.gather(*(guarded(evicting(i, tally), f'evicting {i}', tally)
                           for i in range(a.clients)))
    if tally.errors:
        print(f'{LIB}: FAILED: {len(tally.errors)} errors after {tally.queries} checked results')
        for e in tally.errors[:10]:
            print(f'  {e}')
        return 1
    print(f'{LIB}: OK clients={a.clients} iterations={a.iterations} checked={tally.queries}')
    return 0


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
