// postgres.js through a pooler in transaction mode: its default
// pipelining of many queries on one connection, prepared statements (its
// default prepare: true), transactions with sql.begin and large values,
// checked end to end.
//
// Run by test/integ/35-postgres-js.t (node, with `postgres` from
// package-lock.json). Connection from the libpq-style environment: PGHOST,
// PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Table items (id int primary
// key, t text, n numeric, ts timestamptz, j jsonb, b bytea) must exist and
// be empty.
//
// One postgres() of --max connections (more than the pooler's pool),
// shared by --workers async workers. Worker w, round k (ids w * 100000 +
// k * 1000 + r):
//   1. 100 small SELECTs with parameters issued at once (Promise.all):
//      postgres.js pipelines them on its connections, each with its Sync;
//   2. 20 INSERTs of small rows at once, pipelined the same way (every
//      tenth row all NULL but the key);
//   3. sql.begin: a row with a 1,000,000-character multibyte text and a
//      4 KB bytea with every byte value inserted, read back inside, and
//      pipelined queries inside the transaction;
//   4. every row read back, 21 SELECTs at once, and compared;
//   5. a sql.begin that throws, and a check that its row is gone;
//   6. aggregates.
// Every query is bounded (query_timeout) and so is the run (--deadline).
// The rows, how they are compared, the tally and the summary line come
// from clientdata.js (shared with pg_pool_load.js). Prints "postgres.js:
// OK ... checked=N" and exits 0, or "postgres.js: FAILED ..." and exits 1
// (2 on a hang).

import postgres from 'postgres';
import clientdata from './clientdata.js';

const {
  arg, bigRow, smallRow, diff, tally, check, startDeadline, finish,
} = clientdata;

const LIB = 'postgres.js';

function insert(q, r) {
  return q`INSERT INTO items (id, t, n, ts, j, b) VALUES (${r.id}, ${r.t}, ${r.n}, ${r.ts}, ${r.j}, ${r.b})`;
}

function select(q, id) {
  return q`SELECT id, t, n, ts, j, b FROM items WHERE id = ${id}`;
}

class Rollback extends Error {}

async function round(sql, w, k) {
  const base = w * 100000 + k * 1000;
  const tag = `worker ${w} round ${k}`;
  const small = [];
  for (let r = 1; r <= 20; r++) small.push(smallRow(base + r));

  tally.step[w] = `round ${k}: 100 pipelined SELECTs`;
  const vals = await Promise.all(Array.from({ length: 100 },
    (_, i) => sql`SELECT ${i}::int * 1000 + ${w}::int AS v, ${`\u00fc${i}`}::text AS s`));
  vals.forEach((r, i) => check(`${tag}: pipelined select ${i}`,
    r.length === 1 && r[0].v === i * 1000 + w && r[0].s === `\u00fc${i}` ? '' : `got ${JSON.stringify(r)}`));

  tally.step[w] = `round ${k}: 20 pipelined INSERTs`;
  const ins = await Promise.all(small.map((r) => insert(sql, r)));
  check(`${tag}: pipelined inserts`, ins.every((x) => x.count === 1) ? '' : 'an INSERT did not insert');

  tally.step[w] = `round ${k}: sql.begin with a large row`;
  const big = bigRow(base);
  const inside = await sql.begin(async (tx) => {
    await insert(tx, big);
    const [got, cnt] = await Promise.all([select(tx, base),
      tx`SELECT count(*)::int AS c FROM items WHERE id BETWEEN ${base} AND ${base + 999}`]);
    return { got: got[0], c: cnt[0].c };
  });
  check(`${tag}: large row inside the transaction`, diff(inside.got, big));
  check(`${tag}: count inside the transaction`, inside.c === 21 ? '' : `got ${inside.c}, want 21`);

  tally.step[w] = `round ${k}: 21 pipelined SELECTs`;
  const all = [big, ...small];
  const got = await Promise.all(all.map((r) => select(sql, r.id)));
  all.forEach((r, x) => check(`${tag}: row ${r.id}`,
    got[x].length === 1 ? diff(got[x][0], r) : `${got[x].length} rows for id ${r.id}`));

  tally.step[w] = `round ${k}: rolled back sql.begin`;
  try {
    await sql.begin(async (tx) => {
      await insert(tx, smallRow(base + 500));
      throw new Rollback('roll back');
    });
    check(`${tag}: sql.begin that throws`, 'it did not throw');
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  const gone = await select(sql, base + 500);
  check(`${tag}: rolled back row is not there`, gone.length === 0 ? '' : 'the row is there');

  tally.step[w] = `round ${k}: aggregates`;
  const [agg] = await sql`SELECT count(*)::int AS c, sum(id)::int AS s, sum(length(t))::int AS l,
    sum(octet_length(b))::int AS o FROM items WHERE id BETWEEN ${base} AND ${base + 999}`;
  const want = {
    c: 21, s: all.reduce((a, r) => a + r.id, 0), l: all.reduce((a, r) => a + (r.t ? [...r.t].length : 0), 0),
    o: all.reduce((a, r) => a + (r.b ? r.b.length : 0), 0),
  };
  check(`${tag}: aggregates`, JSON.stringify(agg) === JSON.stringify(want) ? ''
    : `got ${JSON.stringify(agg)}, want ${JSON.stringify(want)}`);
}

async function worker(sql, w, iterations) {
  try {
    for (let k = 0; k < iterations; k++) await round(sql, w, k);
    tally.step[w] = 'done';
  } catch (e) {
    tally.errors.push(`worker ${w} at ${tally.step[w]}: ${e.code ? `${e.code} ` : ''}${e.message}`);
  }
}

async function main() {
  const max = arg('max', 8);
  const workers = arg('workers', 12);
  const iterations = arg('iterations', 10);
  const deadline = arg('deadline', 50);
  const t0 = Date.now();
  const sql = postgres({
    max, connect_timeout: 30, query_timeout: 30, onnotice: false,
    host: process.env.PGHOST, port: Number(process.env.PGPORT), database: process.env.PGDATABASE,
    username: process.env.PGUSER, password: process.env.PGPASSWORD,
  });
  const timer = startDeadline(LIB, deadline);
  const ws = [];
  for (let w = 0; w < workers; w++) ws.push(worker(sql, w, iterations));
  await Promise.all(ws);
  await sql.end({ timeout: 5 });
  clearTimeout(timer);
  finish(LIB, `max=${max} workers=${workers} iterations=${iterations}`, t0);
}

main().catch((e) => {
  console.log(`${LIB}: FAILED: ${e.stack}`);
  process.exit(1);
});
