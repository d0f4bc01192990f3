#!/usr/bin/python3
"""psycopg 3 through a pooler in transaction mode: pipeline mode,
executemany, binary COPY and large values, checked end to end.

Run by test/integ/32-psycopg.t with Debian's /usr/bin/python3
(python3-psycopg). Connection from the libpq environment (PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE). Tables items and items_copy (id int
primary key, t text, n numeric, ts timestamptz, j jsonb, b bytea) and
events (w int, k int, i int, v text) must exist and be empty.

--workers threads, one connection each (more than the pooler's pool).
Worker w uses prepare_threshold=0 when w is even and psycopg's default
(prepare after 5 runs) when odd; autocommit when w % 4 < 2, psycopg's
implicit transactions (commit after each step) otherwise. Each of
--iterations rounds:
  1. executemany (pipeline mode) of 3 rows with large values: a
     1,000,000-character multibyte text, a 4 KB bytea with every byte
     value, a 40-digit numeric, a timestamptz, a jsonb (the third row has
     NULL numeric, timestamptz and jsonb);
  2. executemany of 100 small rows (every tenth all NULL but the key);
  3. the 103 rows read back and compared value by value, and aggregates;
  4. a conn.pipeline() block of 20 INSERTs into events and 20 SELECTs
     (one of a large row), all results checked after the block.
Then, once per worker, a binary COPY of 50 rows (two large) into
items_copy and a binary COPY out of them, compared. The rows, and how
they are compared, come from clientdata.py (shared with asyncpg_load.py).

Ids: worker w, round k, row r -> w * 100000 + k * 1000 + r.

Every wait is bounded: --deadline seconds for the whole run; a worker
still running then is reported with its last step and every thread's stack
is printed (a hang is a failure). Prints "psycopg: OK ... checked=N" and
exits 0, or "psycopg: FAILED ..." and exits 1 (2 on a hang).
"""

import argparse
import faulthandler
import os
import signal
import sys
import threading
import time

import psycopg
from psycopg.types.json import Jsonb

from clientdata import Tally, big_row, diff, small_row

LIB = 'psycopg'


def dumpable(row):
    return tuple(Jsonb(v) if isinstance(v, dict) else v for v in row)


INSERT = 'INSERT INTO items (id, t, n, ts, j, b) VALUES (%s, %s, %s, %s, %s, %s)'


def round_(conn, w, k, tally, autocommit):
    base = w * 100000 + k * 1000
    big = [big_row(base), big_row(base + 1), big_row(base + 2, nulls=True)]
    small = [small_row(base + r) for r in range(3, 103)]
    tag = f'worker {w} round {k}'

    def commit():
        if not autocommit:
            conn.commit()

    with conn.cursor() as cur:
        tally.at(w, f'round {k}: executemany of 3 large rows')
        cur.executemany(INSERT, [dumpable(r) for r in big])
        commit()
        tally.at(w, f'round {k}: executemany of 100 small rows')
        cur.executemany(INSERT, [dumpable(r) for r in small])
        commit()

        tally.at(w, f'round {k}: SELECT the 103 rows')
        cur.execute('SELECT id, t, n, ts, j, b FROM items WHERE id BETWEEN %s AND %s ORDER BY id',
                    (base, base + 102))
        rows = cur.fetchall()
        tally.check(f'{tag}: rows read back', len(rows), 103)
        for got, want in zip(rows, big + small):
            tally.check(f'{tag}: row {want[0]}', got, want, diff)
        tally.at(w, f'round {k}: aggregates')
        cur.execute('SELECT count(*), sum(id), sum(length(t)), count(n), sum(octet_length(b)) '
                    'FROM items WHERE id BETWEEN %s AND %s', (base, base + 102))
        want = (103, sum(r[0] for r in big + small),
                sum(len(r[1]) for r in big + small if r[1] is not None),
                sum(1 for r in big + small if r[2] is not None),
                sum(len(r[5]) for r in big + small if r[5] is not None))
        tally.check(f'{tag}: aggregates', tuple(int(x) for x in cur.fetchone()), want)
        commit()

    tally.at(w, f'round {k}: pipeline block')
    results = []
    with conn.pipeline():
        for i in range(20):
            c = conn.cursor()
            c.execute('INSERT INTO events (w, k, i, v) VALUES (%s, %s, %s, %s) RETURNING w, k, i, v',
                      (w, k, i, f'ev {w}/{k}/{i} \u00fc'))
            results.append((f'{tag}: pipelined insert {i}', c, [(w, k, i, f'ev {w}/{k}/{i} \u00fc')], None))
            c = conn.cursor()
            rid = base + (0 if i == 7 else 3 + (i * 13) % 100)
            c.execute('SELECT id, t, n, ts, j, b FROM items WHERE id = %s', (rid,))
            want = big[0] if i == 7 else small[(i * 13) % 100]
            results.append((f'{tag}: pipelined select of {rid}', c, want, diff))
    for what, c, want, differ in results:
        if differ:
            tally.check(what, c.fetchone(), want, differ)
        else:
            tally.check(what, c.fetchall(), want)
    commit()


COPY_TYPES = ['int4', 'text', 'numeric', 'timestamptz', 'jsonb', 'bytea']


def copy_round(conn, w, tally, autocommit):
    base = w * 100000 + 99000
    rows = [big_row(base), big_row(base + 1, nulls=True)] + [small_row(base + r) for r in range(2, 50)]
    tally.at(w, 'binary COPY in')
    with conn.cursor() as cur:
        with cur.copy('COPY items_copy (id, t, n, ts, j, b) FROM STDIN (FORMAT BINARY)') as cp:
            cp.set_types(COPY_TYPES)
            for r in rows:
                cp.write_row(dumpable(r))
        tally.check(f'worker {w}: COPY in rowcount', cur.rowcount, len(rows))
        if not autocommit:
            conn.commit()
        tally.at(w, 'binary COPY out')
        got = []
        with cur.copy('COPY (SELECT id, t, n, ts, j, b FROM items_copy WHERE id BETWEEN %s AND %s '
                      'ORDER BY id) TO STDOUT (FORMAT BINARY)' % (base, base + 49)) as cp:
            cp.set_types(COPY_TYPES)
            for r in cp.rows():
                # binary COPY loads bytea as a memoryview
                got.append(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r))
        tally.check(f'worker {w}: COPY out row count', len(got), len(rows))
        for g, want in zip(got, rows):
            tally.check(f'worker {w}: COPY out row {want[0]}', g, want, diff)
        if not autocommit:
            conn.commit()


def worker(w, n_iter, tally):
    autocommit = w % 4 < 2
    kw = {'prepare_threshold': 0} if w % 2 == 0 else {}
    try:
        tally.at(w, 'connect')
        with psycopg.connect(autocommit=autocommit, connect_timeout=30, **kw) as conn:
            for k in range(n_iter):
                round_(conn, w, k, tally, autocommit)
            copy_round(conn, w, tally, autocommit)
        tally.at(w, 'done')
        with tally.lock:
            tally.done.add(w)
    except Exception as e:  # report every failure, not just the first
        lines = str(e).splitlines()
        tally.error(f'worker {w} at {tally.step.get(w, ("?",))[0]}: {type(e).__name__}: '
                    f'{lines[0] if lines else ""}')
        with tally.lock:
            tally.done.add(w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--workers', type=int, default=8)
    ap.add_argument('--iterations', type=int, default=10)
    ap.add_argument('--deadline', type=float, default=60)
    a = ap.parse_args()
    faulthandler.register(signal.SIGTERM, all_threads=True, chain=True)
    tally = Tally()
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w, a.iterations, tally), daemon=True)
               for w in range(a.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, t0 + a.deadline - time.monotonic()))
    stuck = [w for w in range(a.workers) if w not in tally.done]
    if stuck:
        now = time.monotonic()
        print(f'{LIB}: FAILED: hang: {len(stuck)} of {a.workers} workers still running after '
              f'{a.deadline:.0f}s ({tally.checked} results checked, {len(tally.errors)} errors)')
        for w in stuck:
            step, since = tally.step.get(w, ('?', now))
            print(f'  worker {w} stuck at {step} for {now - since:.1f}s')
        for e in tally.errors[:10]:
            print(f'  {e}')
        sys.stdout.flush()
        faulthandler.dump_traceback(all_threads=True)
        os._exit(2)
    if tally.errors:
        print(f'{LIB}: FAILED: {len(tally.errors)} errors after {tally.checked} checked results')
        for e in tally.errors[:15]:
            print(f'  {e}')
        return 1
    print(f'{LIB}: OK workers={a.workers} iterations={a.iterations} '
          f'seconds={time.monotonic() - t0:.1f} checked={tally.checked}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
