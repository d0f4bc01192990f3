'use strict';
// node-postgres (pg.Pool) through a pooler in transaction mode: named
// queries, concurrent queries, transactions and large values, checked end
// to end.
//
// Run by test/integ/34-node-postgres.t (node, with `pg` from
// package-lock.json). Connection from the libpq-style environment: PGHOST,
// PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Table items (id int primary
// key, t text, n numeric, ts timestamptz, j jsonb, b bytea) must exist and
// be empty.
//
// A pg.Pool of --clients connections (more than the pooler's pool), and
// --workers async workers sharing it, so queries run concurrently on every
// connection. Worker w, round k (ids w * 100000 + k * 1000 + r):
//   1. 20 named INSERTs ({name, text, values}) of small rows, all at once
//      through the pool (every tenth row all NULL but the key);
//   2. a transaction on one checked-out client (BEGIN, a named INSERT of a
//      row with a 1,000,000-character multibyte text and a 4 KB bytea with
//      every byte value, a read back inside it, COMMIT);
//   3. every row read back with a named SELECT and compared, 10 at once;
//   4. a transaction that is rolled back, and a check that its row is gone;
//   5. aggregates.
// Every query is bounded (query_timeout) and so is the run (--deadline).
// The rows, how they are compared, the tally and the summary line come
// from clientdata.js (shared with postgres_js_load.mjs). Prints
// "node-postgres: OK ... checked=N" and exits 0, or "node-postgres:
// FAILED ..." and exits 1 (2 on a hang).

const pg = require('pg');
const {
  arg, bigRow, smallRow, diff, tally, check, startDeadline, finish,
} = require('./clientdata.js');

const LIB = 'node-postgres';

function params(r) {
  return [r.id, r.t, r.n, r.ts, r.j === null ? null : JSON.stringify(r.j), r.b];
}

const INSERT = 'INSERT INTO items (id, t, n, ts, j, b) VALUES ($1, $2, $3, $4, $5, $6)';
const SELECT = 'SELECT id, t, n, ts, j, b FROM items WHERE id = $1';

async function round(pool, w, k) {
  const base = w * 100000 + k * 1000;
  const tag = `worker ${w} round ${k}`;
  const small = [];
  for (let r = 1; r <= 20; r++) small.push(smallRow(base + r));

  tally.step[w] = `round ${k}: 20 concurrent named INSERTs`;
  const res = await Promise.all(small.map((r) => pool.query({ name: 'ins', text: INSERT, values: params(r) })));
  check(`${tag}: concurrent inserts`, res.every((x) => x.rowCount === 1) ? '' : 'an INSERT did not insert');

  tally.step[w] = `round ${k}: transaction with a large row`;
  const big = bigRow(base);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query({ name: 'ins', text: INSERT, values: params(big) });
    const r = await client.query({ name: 'sel', text: SELECT, values: [base] });
    check(`${tag}: large row inside the transaction`, diff(r.rows[0], big));
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }

  tally.step[w] = `round ${k}: named SELECTs`;
  const all = [big, ...small];
  for (let i = 0; i < all.length; i += 10) {
    const part = all.slice(i, i + 10);
    const got = await Promise.all(part.map((r) => pool.query({ name: 'sel', text: SELECT, values: [r.id] })));
    part.forEach((r, x) => check(`${tag}: row ${r.id}`, got[x].rows.length === 1 ? diff(got[x].rows[0], r)
      : `${got[x].rows.length} rows for id ${r.id}`));
  }

  tally.step[w] = `round ${k}: rolled back transaction`;
  const c2 = await pool.connect();
  try {
    await c2.query('BEGIN');
    await c2.query({ name: 'ins', text: INSERT, values: params(smallRow(base + 500)) });
    await c2.query('ROLLBACK');
  } finally {
    c2.release();
  }
  const gone = await pool.query({ name: 'sel', text: SELECT, values: [base + 500] });
  check(`${tag}: rolled back row is not there`, gone.rows.length === 0 ? '' : 'the row is there');

  tally.step[w] = `round ${k}: aggregates`;
  const agg = await pool.query({
    name: 'agg',
    text: 'SELECT count(*)::int AS c, sum(id)::int AS s, sum(length(t))::int AS l, '
      + 'sum(octet_length(b))::int AS o FROM items WHERE id BETWEEN $1 AND $2',
    values: [base, base + 999],
  });
  const want = {
    c: 21, s: all.reduce((a, r) => a + r.id, 0), l: all.reduce((a, r) => a + (r.t ? [...r.t].length : 0), 0),
    o: all.reduce((a, r) => a + (r.b ? r.b.length : 0), 0),
  };
  check(`${tag}: aggregates`, JSON.stringify(agg.rows[0]) === JSON.stringify(want) ? ''
    : `got ${JSON.stringify(agg.rows[0])}, want ${JSON.stringify(want)}`);
}

async function worker(pool, w, iterations) {
  try {
    for (let k = 0; k < iterations; k++) await round(pool, w, k);
    tally.step[w] = 'done';
  } catch (e) {
    tally.errors.push(`worker ${w} at ${tally.step[w]}: ${e.message}`);
  }
}

async function main() {
  const clients = arg('clients', 8);
  const workers = arg('workers', 12);
  const iterations = arg('iterations', 10);
  const deadline = arg('deadline', 50);
  const t0 = Date.now();
  const pool = new pg.Pool({
    max: clients, connectionTimeoutMillis: 30000, query_timeout: 30000, idleTimeoutMillis: 0,
  });
  pool.on('error', (e) => tally.errors.push(`pool: ${e.message}`));
  const timer = startDeadline(LIB, deadline);
  const ws = [];
  for (let w = 0; w < workers; w++) ws.push(worker(pool, w, iterations));
  await Promise.all(ws);
  await pool.end();
  clearTimeout(timer);
  finish(LIB, `clients=${clients} workers=${workers} iterations=${iterations}`, t0);
}

main().catch((e) => {
  console.log(`${LIB}: FAILED: ${e.stack}`);
  process.exit(1);
});
