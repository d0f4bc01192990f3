"""The rows psycopg_load.py and asyncpg_load.py write and check, and how
they compare and count results. Imported from the script's own directory
(on sys.path when a script runs as `python3 .../py/x_load.py`).

A large row for id i: a 1,000,000-character multibyte text (the id
zero-padded to 19 digits, a colon, then PATTERN; test/lib/SluiceTest/
Clients.pm builds the same string and checks its md5), a 4 KB bytea with
every byte value, a 40-digit numeric, a timestamptz and a jsonb. A small
row: short values, all NULL but the key when the id ends in 9.
"""

import datetime
import decimal
import threading
import time

PATTERN = 'sluice \u2713 \u00fcn\u00ef \U0001F600 \u65e5\u672c xy'
BIG_CHARS = 1000000
UTC = datetime.timezone.utc
TS0 = datetime.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=UTC)
COLS = ('id', 't', 'n', 'ts', 'j', 'b')


def big_text(i):
    assert len(PATTERN) == 20
    s = '%019d:' % i + PATTERN * ((BIG_CHARS - 20) // 20)
    assert len(s) == BIG_CHARS
    return s


def big_bytes(i):
    return bytes((x + i) % 256 for x in range(4096))


def big_row(i, nulls=False):
    """nulls: NULL numeric, timestamptz and jsonb (text and bytea kept)."""
    if nulls:
        return (i, big_text(i), None, None, None, big_bytes(i))
    return (i, big_text(i), decimal.Decimal(f'-{i}98765432109876543210.01234567890123456789'),
            TS0 + datetime.timedelta(seconds=i),
            {'id': i, 's': '\u00fc\u20ac\U0001F600', 'a': [1, 2.5, None, True], 'o': {'k': 'v'}},
            big_bytes(i))


def small_row(i):
    if i % 10 == 9:
        return (i, None, None, None, None, None)
    return (i, f'small {i} \u00fcn\u00ef \U0001F600', decimal.Decimal(i) / decimal.Decimal(8),
            TS0 + datetime.timedelta(seconds=i), {'id': i, 's': '\u00fc\u20ac'},
            bytes([i % 256, 0, 255, 39, 92]))


def short(v):
    if isinstance(v, (str, bytes)) and len(v) > 40:
        return f'{type(v).__name__}(len={len(v)}, {v[:20]!r}...)'
    return repr(v)


def diff(got, want):
    """'' when equal (same values of the same types), else which columns
    differ and how."""
    if got is None or len(got) != len(want):
        return f'got {short(got)}, want a row of {len(want)}'
    out = []
    for name, g, w in zip(COLS, got, want):
        if g != w or type(g) is not type(w):
            where = ''
            if isinstance(g, (str, bytes)) and isinstance(w, (str, bytes)):
                k = next((x for x in range(min(len(g), len(w))) if g[x] != w[x]), min(len(g), len(w)))
                where = f' (first difference at {k})'
            out.append(f'{name}: got {short(g)}, want {short(w)}{where}')
    return '; '.join(out)


class Tally:
    """Checked results and errors, safe to share between threads; step
    holds where each worker is (at() records since when)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.checked = 0
        self.errors = []
        self.step = {}
        self.done = set()

    def check(self, what, got, want, differ=None):
        d = differ(got, want) if differ else ('' if got == want else f'got {short(got)}, want {short(want)}')
        with self.lock:
            self.checked += 1
            if d:
                self.errors.append(f'{what}: {d}')

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)

    def at(self, w, step):
        self.step[w] = (step, time.monotonic())
