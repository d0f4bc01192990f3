#!/usr/bin/python3
"""psycopg 3 with prepare_threshold=0 (every query a named prepared
statement) through a pooler.

Run by test/integ/15-client-libraries.t with Debian's /usr/bin/python3
(python3-psycopg). Connection from the libpq environment (PGHOST, PGPORT,
PGUSER, PGPASSWORD, PGDATABASE). Tables lib_items (id, name = 'item<id>')
and lib_log (id, lib, client, n) must exist.

--clients threads, one connection each. psycopg names its statements
_pg3_0, _pg3_1, ... per connection, and each thread runs the statements in
a rotation of its own, so the same name means a different text on
different connections. Even threads use autocommit, odd threads commit
after every round (psycopg's implicit BEGIN). Every fourth thread also
runs rounds in pipeline mode (Parse/Bind/Execute for many statements
before one Sync). Only COMMIT ends a transaction here: psycopg answers a
ROLLBACK with a SQL-level DEALLOCATE ALL, which is not what this tests.
Every result is checked.

Prints "psycopg: OK ..." and exits 0, or prints the first errors and
exits 1.
"""

import argparse
import sys
import threading

import psycopg

LIB = 'psycopg'


def first_line(e):
    lines = str(e).splitlines()
    return lines[0] if lines else ''


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.queries = 0
        self.errors = []

    def check(self, what, got, want):
        with self.lock:
            self.queries += 1
            if got != want:
                self.errors.append(f'{what}: got {got!r}, want {want!r}')

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)


def statements(i):
    """(what, sql, params(k), expected(k)) in client i's rotation."""
    def item_id(k):
        return (k * 7 + i) % 100 + 1
    steps = [
        ('add-one', 'SELECT %s::int + 1', lambda k: (k,), lambda k: (k + 1,)),
        ('item', 'SELECT name FROM lib_items WHERE id = %s',
         lambda k: (item_id(k),), lambda k: (f'item{item_id(k)}',)),
        ('insert', 'INSERT INTO lib_log (lib, client, n) VALUES (%s, %s, %s) RETURNING lib, client, n',
         lambda k: (LIB, i, k), lambda k: (LIB, i, k)),
        ('mine', f'SELECT %s::int * 1000 + {i}', lambda k: (k,), lambda k: (k * 1000 + i,)),
    ]
    return steps[i % 4:] + steps[:i % 4]


def client(i, n_iter, tally):
    autocommit = i % 2 == 0
    with psycopg.connect(prepare_threshold=0, autocommit=autocommit, connect_timeout=30) as conn:
        steps = statements(i)
        for k in range(n_iter):
            with conn.cursor() as cur:
                for what, sql, params, want in steps:
                    cur.execute(sql, params(k))
                    tally.check(f'client {i} round {k} {what}', cur.fetchone(), want(k))
            if not autocommit:
                conn.commit()
        if i % 4 == 0:
            # pipeline mode: every round's statements go out before one Sync
            for k in range(n_iter, n_iter + 20):
                with conn.pipeline():
                    curs = []
                    for what, sql, params, want in steps:
                        cur = conn.cursor()
                        cur.execute(sql, params(k))
                        curs.append((what, cur, want))
                for what, cur, want in curs:
                    tally.check(f'client {i} pipeline round {k} {what}', cur.fetchone(), want(k))
                if not autocommit:
                    conn.commit()


def guarded(i, n_iter, tally):
    try:
        client(i, n_iter, tally)
    except Exception as e:  # report every failure, not just the first
        tally.error(f'client {i}: {type(e).__name__}: {first_line(e)}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--clients', type=int, default=8)
    ap.add_argument('--iterations', type=int, default=100)
    a = ap.parse_args()
    tally = Tally()
    threads = [threading.Thread(target=guarded, args=(i, a.iterations, tally), daemon=True)
               for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if tally.errors:
        print(f'{LIB}: FAILED: {len(tally.errors)} errors after {tally.queries} checked results')
        for e in tally.errors[:10]:
            print(f'  {e}')
        return 1
    print(f'{LIB}: OK clients={a.clients} iterations={a.iterations} checked={tally.queries}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
