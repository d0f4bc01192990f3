"""Workload generator for the differential tester.

A workload is plain JSON, so a shrunk failing case can be kept in the corpus
and replayed without the generator:

  {"mode": "session"|"transaction"|"statement", "named": true|false,
   "seed": S, "clients": [{"id": 0, "params": {startup parameters},
                           "steps": [step, ...]}, ...]}

A step is {"send": [msg, ...], "read": bool} plus optional keys:
  "copy": [msg, ...]   sent once CopyInResponse arrives (COPY FROM STDIN)
  "eager": true        the copy messages are sent right behind the Query
  "cancel": ms         a CancelRequest after ms milliseconds, repeated
                       every 300 ms until the ReadyForQuery arrives
  "chunk": n           the step's bytes are written in pieces of n bytes
  "bytewise": true     the step's answers are read one byte per recv()
  "pause": ms          sleep before the step (lets other clients overlap)
read = false leaves the answers unread: the next steps pipeline behind it.

A msg is a list: ["Q", text] ["P", name, text, [oids]]
["B", portal, stmt, [pformats], [params], [rformats]] ["D", "S"|"P", name]
["E", portal, maxrows] ["C", "S"|"P", name] ["H"] ["S"] ["d", text] ["c"]
["f", text] ["F", oid, [aformats], [args], rformat]. A text is a string, {"rep": s, "n": k} (s repeated k times) or
a list of texts (concatenated). A parameter is null, a text, {"hex": h},
{"i4": n} or {"i8": n} (binary integers).

What each mode is promised, and so what the generator keeps to:
  session      everything: SET, temporary tables, SQL PREPARE, unnamed
               statements reused across Syncs
  transaction  no session state across transactions: SET only as SET LOCAL
               in a transaction block, no temporary tables or SQL PREPARE;
               the unnamed statement and portals are used only before the
               next Sync. Named statements are used across transactions
               when `named` (a pooler that tracks them), else not at all.
  statement    as transaction, and no transaction blocks at all.
"""

import random
import struct

# Differences found in sluice and not fixed yet (test/diff/known-failing.txt)
# are kept out of random workloads, so campaigns find new ones; their corpus
# cases still run. Set to False once the fixes are in.
AVOID_KNOWN = True

T_OID = {'i4': 23, 'i8': 20, 'text': 25, 'bytea': 17}

MB_TEXTS = ['', 'a', 'héllo', 'naïve ✓', '日本語テキスト', 'Ωmega', 'x y\tz', 'emoji 🐘']


def expand(t):
    """A text spec as a Python str."""
    if isinstance(t, str):
        return t
    if isinstance(t, dict):
        return t['rep'] * t['n']
    return ''.join(expand(x) for x in t)


def param_bytes(p):
    if p is None:
        return None
    if isinstance(p, dict):
        if 'hex' in p:
            return bytes.fromhex(p['hex'])
        if 'i4' in p:
            return struct.pack('!i', p['i4'])
        if 'i8' in p:
            return struct.pack('!q', p['i8'])
    return expand(p).encode('utf-8')


# Extended-protocol statements: name, SQL (with {t}), parameter types,
# result column count. Parameter types drive the values and formats.
EXT = [
    ('ins', 'INSERT INTO {t} (k, v, b) VALUES ($1, $2, $3)', ['i4', 'text', 'bytea'], 0),
    ('sel', 'SELECT id, k, v, b FROM {t} WHERE k >= $1 ORDER BY id LIMIT 40', ['i4'], 4),
    ('gen', 'SELECT g, repeat(chr(945 + g % 20), g % 7) AS r FROM generate_series(1, $1) g', ['i4'], 2),
    ('echo', 'SELECT $1::text AS a, $2::int8 AS b, $3::bytea AS c', ['text', 'i8', 'bytea'], 3),
    ('upd', 'UPDATE {t} SET v = $2 WHERE k = $1', ['i4', 'text'], 0),
    ('div', 'SELECT 1000 / $1::int4 AS q', ['i4'], 1),
    ('big', "SELECT repeat('ab', $1) AS big", ['i4'], 1),
    ('cnt', 'SELECT count(*) AS n, sum(k) AS s FROM {t}', [], 2),
    ('note', "DO $$BEGIN RAISE NOTICE 'extended notice from {t}'; END$$", [], 0),
    ('nap', 'SELECT pg_sleep(0.005)', [], 1),
]


class ClientGen:
    def __init__(self, rnd, cid, mode, named, steps):
        self.r = rnd
        self.cid = cid
        self.t = 't%d' % cid
        self.mode = mode
        self.named_ok = named
        self.nsteps = steps
        self.txs = 'I'          # predicted transaction status
        self.savepoints = []
        self.stmts = {}         # named statements: name -> EXT entry
        self.nstmt = 0
        self.out = []
        self.k = 0

    # ---- helpers ----
    def chance(self, p):
        return self.r.random() < p

    def text_value(self):
        x = self.r.random()
        if x < 0.08:
            return None
        if x < 0.12:
            return {'rep': self.r.choice(['x', 'é', '✓']), 'n': self.r.choice([1000, 70000, 300000])}
        if x < 0.125:
            return {'rep': 'z', 'n': 1 << 20}
        return self.r.choice(MB_TEXTS)

    def sql_text_literal(self):
        # no quotes in MB_TEXTS, so a plain literal is safe
        return "'" + self.r.choice(MB_TEXTS) + "'"

    def param(self, typ, binary):
        if typ == 'i4':
            self.k += 1
            v = self.r.choice([0, 1, 2, 3, 7, 42, -5, 100000, self.k])
            return {'i4': v} if binary else str(v)
        if typ == 'i8':
            v = self.r.choice([0, 1, -1, 2 ** 40, -2 ** 62])
            return {'i8': v} if binary else str(v)
        if typ == 'text':
            return self.text_value()
        if typ == 'bytea':
            if self.chance(0.1):
                return None
            raw = bytes(self.r.randrange(256) for _ in range(self.r.choice([0, 1, 5, 64])))
            return {'hex': raw.hex()} if binary else '\\x' + raw.hex()
        raise ValueError(typ)

    def step(self, send, read=True, **kw):
        s = {'send': send, 'read': read}
        s.update(kw)
        if self.chance(0.05):
            s['chunk'] = self.r.choice([1, 3, 7, 100])
        if self.chance(0.05) and read:
            s['bytewise'] = True
        if self.chance(0.05):
            s['pause'] = self.r.choice([1, 5, 20])
        self.out.append(s)

    def end_tx(self):
        self.txs = 'I'
        self.savepoints = []

    def fail(self):
        """An error: a transaction block becomes failed."""
        if self.txs == 'T':
            self.txs = 'E'

    # ---- simple Query ----
    def simple_ok_sql(self):
        t = self.t
        self.k += 1
        c = self.r.randrange(14)
        if c == 0:
            return "INSERT INTO %s (k, v) VALUES (%d, %s)" % (t, self.k, self.sql_text_literal())
        if c == 1:
            return "SELECT id, k, v, b FROM %s ORDER BY id LIMIT 30" % t
        if c == 2:
            return "UPDATE %s SET k = k + 1 WHERE k %% 3 = 0" % t
        if c == 3:
            return "DELETE FROM %s WHERE k > %d" % (t, self.r.randrange(50, 200))
        if c == 4:
            return "SELECT count(*), sum(k) FROM %s" % t
        if c == 5:
            return "SELECT repeat('%s', %d)" % (self.r.choice(['x', 'ü', '日']), self.r.choice([0, 1, 100, 5000, 200000]))
        if c == 6:
            return "SELECT g, md5(g::text) FROM generate_series(1, %d) g" % self.r.choice([1, 10, 200])
        if c == 7:
            return "DO $$BEGIN RAISE NOTICE 'note %% from %s', %d; END$$" % (t, self.k)
        if c == 8:
            return "SELECT pg_sleep(0.0%d)" % self.r.randrange(1, 5)
        if c == 9:
            return ""
        if c == 10:
            return "SELECT NULL::text AS n, 'héllo ✓ 日本語'::text AS t, 1.5::numeric, true, ''::text AS e"
        if c == 11:
            return "VALUES (1, 'a'), (2, NULL), (3, 'ß')"
        if c == 12:
            return "INSERT INTO %s (k, v, b) SELECT g, repeat('q', g), '\\x00ff'::bytea FROM generate_series(%d, %d) g" % (t, self.k, self.k + 5)
        return "SELECT %d AS k, %s AS v" % (self.k, self.sql_text_literal())

    def simple_err_sql(self):
        return self.r.choice([
            "SELECT 1/0",
            "SELECT * FROM no_such_table_%d" % self.cid,
            "SELEC 1",
            "SELECT 'x'::int",
            "INSERT INTO %s (k) VALUES ('nope')" % self.t,
        ])

    def gen_simple(self):
        if self.txs == 'E':
            self.gen_recover()
            return
        n = 1 if self.chance(0.6) else self.r.randrange(2, 5)
        parts = []
        err = False
        for _ in range(n):
            if not err and self.chance(0.15):
                parts.append(self.simple_err_sql())
                err = True
            else:
                parts.append(self.simple_ok_sql())
        sql = ';'.join(parts) if self.chance(0.5) else '; '.join(parts) + ';'
        if n == 1 and parts[0] == '':
            sql = self.r.choice(['', ' ', ';', '-- only a comment'])
        if err:
            self.fail()
        self.step([['Q', sql]])

    def gen_recover(self):
        if self.savepoints and self.chance(0.5):
            sp = self.r.choice(self.savepoints)
            self.savepoints = self.savepoints[:self.savepoints.index(sp) + 1]
            self.txs = 'T'
            self.step([['Q', 'ROLLBACK TO SAVEPOINT %s' % sp]])
        elif self.chance(0.2):
            self.step([['Q', 'SELECT 1']])       # 25P02, still failed
        else:
            self.end_tx()
            self.step([['Q', self.r.choice(['ROLLBACK', 'COMMIT', 'ABORT'])]])

    # ---- transactions ----
    def gen_tx(self):
        if self.mode == 'statement':
            return self.gen_simple()
        if self.txs == 'E':
            return self.gen_recover()
        if self.txs == 'I':
            self.txs = 'T'
            sql = self.r.choice(['BEGIN', 'START TRANSACTION', 'BEGIN ISOLATION LEVEL REPEATABLE READ'])
            if self.chance(0.3):
                sql += '; ' + self.simple_ok_sql()
            self.step([['Q', sql]])
            return
        c = self.r.randrange(6)
        if c == 0 or (c == 1 and not self.savepoints):
            sp = 'sp%d' % len(self.savepoints)
            self.savepoints.append(sp)
            self.step([['Q', 'SAVEPOINT %s' % sp]])
        elif c == 1:
            sp = self.savepoints.pop()
            self.step([['Q', 'RELEASE SAVEPOINT %s' % sp]])
        elif c == 2:
            self.end_tx()
            self.step([['Q', self.r.choice(['COMMIT', 'ROLLBACK', 'END'])]])
        elif c == 3:
            # SET LOCAL of a reported parameter: ParameterStatus now, and
            # again when the transaction ends and the value reverts
            self.step([['Q', self.r.choice([
                'SET LOCAL work_mem = %d' % self.r.choice([1024, 2048, 4096]),
                "SET LOCAL application_name = 'local_%d'" % self.cid,
                "SET LOCAL DateStyle = 'German, DMY'",
                "SET LOCAL TimeZone = 'Pacific/Auckland'",
                "SET LOCAL IntervalStyle = 'sql_standard'",
            ])]])
        else:
            self.gen_simple()

    # ---- session-only features ----
    def gen_session(self):
        if self.mode != 'session' or self.txs == 'E':
            return self.gen_simple()
        c = self.r.randrange(5)
        if c == 0:
            sql = self.r.choice([
                "SET application_name = 'diff_%d_%d'" % (self.cid, self.r.randrange(100)),
                "SET DateStyle = '%s'" % self.r.choice(['ISO, DMY', 'SQL, MDY', 'ISO, MDY']),
                "SET TimeZone = '%s'" % self.r.choice(['UTC', 'Europe/Paris', 'America/New_York']),
                "SET extra_float_digits = %d" % self.r.choice([0, 1, 3]),
                "SET search_path = public, pg_catalog",
            ] + ["RESET ALL"])    # reset-all-startup-param-session.json (fixed)
            self.step([['Q', sql]])
        elif c == 1:
            self.step([['Q', "CREATE TEMP TABLE IF NOT EXISTS tmp%d (x int); INSERT INTO tmp%d VALUES (%d); SELECT count(*) FROM tmp%d"
                        % (self.cid, self.cid, self.k, self.cid)]])
        elif c == 2:
            q = 'q%d' % self.cid
            self.step([['Q', "PREPARE %s(int) AS SELECT $1 + 1, now() IS NOT NULL; EXECUTE %s(%d); DEALLOCATE %s"
                        % (q, q, self.k, q)]])
        elif c == 3:
            self.step([['Q', "SHOW DateStyle; SHOW TimeZone; SELECT current_setting('application_name')"]])
        else:
            # the unnamed statement, kept across a Sync: session mode only
            e = self.r.choice(EXT)
            msgs = [['P', '', e[1].format(t=self.t), [T_OID[x] for x in e[2]]], ['S']]
            self.step(msgs, read=self.chance(0.7))
            self.group_err = False
            msgs = self.bind_exec('', e, named_portal=False) + [['S']]
            if self.group_err:
                self.fail()
            self.step(msgs)

    # ---- COPY ----
    def gen_copy(self):
        if self.txs == 'E':
            self.fail()
            self.step([['Q', 'COPY %s (k, v) FROM STDIN' % self.t]], copy=[['d', '1\tx\n'], ['c']],
                      eager=self.chance(0.5))
            return
        if self.chance(0.4):
            sql = self.r.choice([
                'COPY %s TO STDOUT' % self.t,
                'COPY (SELECT id, k, v FROM %s ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)' % self.t,
                'COPY (SELECT g, repeat(\'r\', g * 100) FROM generate_series(1, 50) g) TO STDOUT',
                'COPY %s (k, v, b) TO STDOUT (FORMAT binary)' % self.t,
            ])
            self.step([['Q', sql]])
            return
        rows = []
        for _ in range(self.r.randrange(0, 6)):
            self.k += 1
            v = self.r.choice(MB_TEXTS + ['\\N'])
            rows.append('%d\t%s\n' % (self.k, v))
        if self.chance(0.05):
            rows.append('%d\t%s\n' % (self.k, 'w' * 500000))
        data = []
        if rows and self.chance(0.3):
            # one CopyData cutting rows anywhere
            blob = ''.join(rows)
            cut = self.r.randrange(len(blob) + 1)
            data = [['d', blob[:cut]], ['d', blob[cut:]]]
        else:
            data = [['d', row] for row in rows]
        c = self.r.random()
        if c < 0.2:
            data.append(['f', 'client gave up %d' % self.cid])
            self.fail()
        elif c < 0.3:
            data.append(['d', 'notanumber\tx\n'])
            data.append(['c'])
            self.fail()
        else:
            data.append(['c'])
        kw = {'copy': data}
        if self.chance(0.25):
            kw['eager'] = True
            if self.chance(0.3):
                # fails before CopyInResponse: the data that follows is skipped
                self.fail()
                self.step([['Q', 'COPY nosuch_%d (k, v) FROM STDIN' % self.cid]], **kw)
                return
        self.step([['Q', 'COPY %s (k, v) FROM STDIN' % self.t]], **kw)

    # ---- the function-call message ----
    def gen_fcall(self):
        if self.txs == 'E':
            return self.gen_recover()
        binary = self.chance(0.5)
        a, b = self.r.randrange(-1000, 1000), self.r.choice([0, 1, 7, 2 ** 31 - 1])
        args = [{'i4': a}, {'i4': b}] if binary else [str(a), str(b)]
        if self.chance(0.1):
            args[1] = None           # int4pl is strict: a NULL result
        if b == 2 ** 31 - 1 and a > 0:
            self.fail()              # integer out of range
        # 177 is int4pl(int4, int4)
        self.step([['F', 177, [1] if binary else [0], args, self.r.randrange(2)]])

    # ---- cancel ----
    def gen_cancel(self):
        if self.txs == 'E':
            return self.gen_recover()
        self.fail()
        self.step([['Q', 'SELECT pg_sleep(30)']], cancel=self.r.choice([0, 20, 100]))

    # ---- extended protocol ----
    def bind_exec(self, stmt, e, named_portal=True):
        """Bind stmt (of EXT entry e), maybe describe the portal, execute it
        (maybe with a row limit, resumed), maybe close the portal."""
        types = e[2]
        pfmt_mode = self.r.randrange(3)
        if pfmt_mode == 0:
            pformats = []
        elif pfmt_mode == 1:
            pformats = [1] if types else []
        else:
            pformats = [self.r.randrange(2) for _ in types]
        params = []
        for i, typ in enumerate(types):
            if len(pformats) == 1:
                binary = pformats[0] == 1
            elif pformats:
                binary = pformats[i] == 1
            else:
                binary = False
            # a named statement is shared with other clients through a
            # pooler that tracks them: shared-statement-generic-plan-*.json
            avoid_zero = AVOID_KNOWN and stmt and self.mode != 'session'
            if e[0] == 'div' and self.chance(0.3) and not avoid_zero:
                params.append({'i4': 0} if binary else '0')
            elif e[0] == 'div' and avoid_zero:
                n = self.r.choice([1, 2, 7, -5, 1000])   # never 0: see above
                params.append({'i4': n} if binary else str(n))
            elif e[0] == 'big':
                n = self.r.choice([0, 10, 1000, 100000, 500000])
                params.append({'i4': n} if binary else str(n))
            elif e[0] == 'gen':
                n = self.r.choice([0, 1, 5, 30])
                params.append({'i4': n} if binary else str(n))
            else:
                params.append(self.param(typ, binary))
        ncols = e[3]
        rf = self.r.randrange(3)
        rformats = [] if rf == 0 or not ncols else ([1] if rf == 1 else [self.r.randrange(2) for _ in range(ncols)])
        portal = ''
        if named_portal and self.chance(0.4):
            portal = 'p%d' % self.r.randrange(3)
        msgs = [['B', portal, stmt, pformats, params, rformats]]
        if self.chance(0.4):
            msgs.append(['D', 'P', portal])
        if ncols and self.chance(0.4):
            lim = self.r.choice([1, 2, 3])
            msgs.append(['E', portal, lim])
            for _ in range(self.r.randrange(0, 3)):
                msgs.append(['E', portal, self.r.choice([0, 1, 2])])
        else:
            msgs.append(['E', portal, 0])
        if portal:
            # a named portal left open would outlive the Sync in a
            # transaction block and clash with the next Bind of its name
            msgs.append(['C', 'P', portal])
        if e[0] == 'div' and any(p in ('0', {'i4': 0}) for p in params):
            self.group_err = True
        return msgs

    def ext_op(self):
        """One operation inside a sync group: a list of messages."""
        if self.txs == 'E':
            # in a failed transaction Parse and Bind fail with 25P02
            self.group_err = True
            return [['P', '', 'SELECT 1', []], ['B', '', '', [], [], []], ['E', '', 0]]
        c = self.r.random()
        use_named = self.named_ok and self.mode != 'session' or self.mode == 'session'
        if c < 0.08:
            # deliberate errors
            self.group_err = True
            x = self.r.randrange(6)
            if x == 0:
                return [['P', '', 'SELEC 1 FROM %s' % self.t, []]]
            if x == 1:
                return [['B', '', 'nosuch_%d' % self.cid, [], [], []]]
            if x == 2:
                return [['P', '', EXT[0][1].format(t=self.t), []], ['B', '', '', [], ['1', 'x'], []]]
            if x == 3:
                return [['E', 'nosuchportal', 0]]
            if x == 4 and use_named and self.stmts:
                return [['P', self.r.choice(sorted(self.stmts)), 'SELECT 2', []]]
            return [['D', 'S', 'nosuch_%d' % self.cid]]
        if use_named and (c < 0.45 or not self.stmts) and self.chance(0.6):
            # a new named statement
            e = self.r.choice(EXT)
            self.nstmt += 1
            name = self.r.choice(['s%d' % self.nstmt, 'stmt_%d_%d' % (self.cid, self.nstmt), 'S%d' % self.nstmt])
            oids = [T_OID[x] for x in e[2]] if self.chance(0.6) else ([0] * len(e[2]) if self.chance(0.5) else [])
            msgs = [['P', name, e[1].format(t=self.t), oids]]
            if self.chance(0.4):
                msgs.append(['D', 'S', name])
            self.pending_named[name] = e
            if self.chance(0.7):
                msgs += self.bind_exec(name, e)
            return msgs
        if use_named and self.stmts and c < 0.75:
            name = self.r.choice(sorted(self.stmts))
            e = self.stmts[name]
            x = self.r.random()
            if x < 0.15:
                del self.stmts[name]
                return [['C', 'S', name]]
            if x < 0.3:
                return [['D', 'S', name]]
            return self.bind_exec(name, e)
        # the unnamed statement, parsed and used before the Sync
        e = self.r.choice(EXT)
        oids = [T_OID[x] for x in e[2]] if self.chance(0.5) else []
        msgs = [['P', '', e[1].format(t=self.t), oids]]
        if self.chance(0.3):
            msgs.append(['D', 'S', ''])
        return msgs + self.bind_exec('', e)

    def gen_ext(self):
        """One or more sync groups; maybe a Flush and a read in the middle;
        maybe pipelined (read later)."""
        ngroups = 1 if self.chance(0.6) else self.r.randrange(2, 4)
        for g in range(ngroups):
            self.group_err = False
            self.pending_named = {}
            msgs = []
            tx_ctl = None
            if self.mode != 'statement' and self.txs in ('I', 'E') and self.chance(0.15):
                tx_ctl = 'BEGIN' if self.txs == 'I' else 'ROLLBACK'
            elif self.mode != 'statement' and self.txs == 'T' and self.chance(0.15):
                tx_ctl = self.r.choice(['COMMIT', 'ROLLBACK'])
            if tx_ctl:
                msgs += [['P', '', tx_ctl, []], ['B', '', '', [], [], []], ['E', '', 0]]
                if tx_ctl == 'BEGIN':
                    self.txs = 'T'
                else:
                    self.end_tx()
            for _ in range(self.r.randrange(1, 4)):
                msgs += self.ext_op()
                if self.group_err:
                    break
            if not self.group_err:
                self.stmts.update(self.pending_named)
            elif self.mode == 'session' or self.named_ok:
                # a Parse before the error in the same group did succeed
                pass
            if self.chance(0.15) and not self.group_err:
                # Flush, read what came, then finish the group
                msgs.append(['H'])
                self.step(msgs, read=True)
                msgs = []
                if self.chance(0.5):
                    msgs += self.ext_op()
            if self.group_err:
                self.fail()
                # named statements parsed before the error exist on
                # PostgreSQL; we do not know which did, so forget them all
                for n in self.pending_named:
                    self.stmts.pop(n, None)
            msgs.append(['S'])
            last = g == ngroups - 1
            self.step(msgs, read=last or self.chance(0.3))

    def generate(self):
        self.step([['Q', 'CREATE TABLE %s (id serial PRIMARY KEY, k int, v text, b bytea)' % self.t]])
        gens = [(self.gen_simple, 25), (self.gen_ext, 35), (self.gen_tx, 15),
                (self.gen_copy, 8), (self.gen_session, 8), (self.gen_cancel, 2),
                (self.gen_fcall, 2)]
        total = sum(w for _, w in gens)
        for _ in range(self.nsteps):
            x = self.r.uniform(0, total)
            for f, w in gens:
                x -= w
                if x <= 0:
                    f()
                    break
        if self.txs != 'I' and self.chance(0.7):
            self.end_tx()
            self.step([['Q', 'ROLLBACK']])
        # every client ends with reads done; Terminate is sent by the runner
        if self.out and not self.out[-1]['read']:
            self.out[-1]['read'] = True
        return self.out


def startup_params(r, cid):
    """Startup parameters beyond user and database, sometimes."""
    p = {}
    if r.random() < 0.3:
        p['application_name'] = 'difftest_%d' % cid
    if r.random() < 0.15:
        # non-canonical spellings too (startup-param-spelling-transaction.json:
        # PostgreSQL's spelling is reported since servers are opened with them)
        p['DateStyle'] = r.choice(['ISO, DMY', 'SQL, MDY', 'iso,dmy', 'German'])
    if r.random() < 0.15:
        p['TimeZone'] = r.choice(['UTC', 'Asia/Tokyo', 'utc', 'asia/tokyo'])
    if r.random() < 0.1:
        p['client_encoding'] = r.choice(['UTF8', 'utf8'])
    if r.random() < 0.1:
        p['extra_float_digits'] = r.choice(['2', '3'])
    return p


def generate(seed, mode, nclients, steps, named=True):
    r = random.Random(seed)
    clients = []
    for cid in range(nclients):
        cr = random.Random(r.getrandbits(64))
        n = cr.randrange(max(1, steps // 2), steps + 1)
        c = {'id': cid, 'steps': ClientGen(cr, cid, mode, named, n).generate()}
        p = startup_params(cr, cid)
        if p:
            c['params'] = p
        clients.append(c)
    return {'mode': mode, 'named': named, 'seed': seed, 'clients': clients}
