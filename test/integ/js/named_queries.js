'use strict';
// node-postgres named queries through a pooler.
//
// Run by test/integ/15-client-libraries.t (node, with `pg` from
// package-lock.json). Connection from the libpq-style environment: PGHOST,
// PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Tables lib_items (id, name =
// 'item<id>') and lib_log (id, lib, client, n) must exist.
//
// --clients pg.Client connections (not a pool), all at once, each running
// --iterations rounds of named queries: node-postgres sends Parse the first
// time a name is used on a connection and only Bind/Execute after that.
// 'add-one', 'item' and 'log' have the same text on every client; 'mine'
// has the same name and a different text on every client. Every tenth
// round runs inside BEGIN/COMMIT. Every result is checked.
//
// Prints "node-postgres: OK ..." and exits 0, or prints the first errors
// and exits 1.

const { Client } = require('pg');

const LIB = 'node-postgres';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const tally = { queries: 0, errors: [] };

function check(what, got, want) {
  tally.queries++;
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) tally.errors.push(`${what}: got ${g}, want ${w}`);
}

async function runClient(i, iterations) {
  const client = new Client({
    host: process.env.PGHOST,
    port: Number(process.env.PGPORT),
    user: process.env.PGUSER,
    password: process.env.PGPASSWORD,
    database: process.env.PGDATABASE,
    connectionTimeoutMillis: 30000,
    query_timeout: 30000,
  });
  // a connection-level error must fail the run, not crash node
  client.on('error', (e) => tally.errors.push(`client ${i} connection: ${e.message}`));
  await client.connect();
  try {
    const itemId = (k) => ((k * 7 + i) % 100) + 1;
    const steps = [
      async (k) => {
        const r = await client.query({ name: 'add-one', text: 'SELECT $1::int + 1 AS v', values: [k] });
        check(`client ${i} round ${k} add-one`, r.rows, [{ v: k + 1 }]);
      },
      async (k) => {
        const r = await client.query({
          name: 'item', text: 'SELECT name FROM lib_items WHERE id = $1', values: [itemId(k)],
        });
        check(`client ${i} round ${k} item`, r.rows, [{ name: `item${itemId(k)}` }]);
      },
      async (k) => {
        const r = await client.query({
          name: 'log',
          text: 'INSERT INTO lib_log (lib, client, n) VALUES ($1, $2, $3) RETURNING lib, client, n',
          values: [LIB, i, k],
        });
        check(`client ${i} round ${k} log`, r.rows, [{ lib: LIB, client: i, n: k }]);
      },
      async (k) => {
        const r = await client.query({
          name: 'mine', text: `SELECT $1::int * 1000 + ${i} AS v`, values: [k],
        });
        check(`client ${i} round ${k} mine`, r.rows, [{ v: k * 1000 + i }]);
      },
    ];
    const order = steps.slice(i % 4).concat(steps.slice(0, i % 4));
    for (let k = 0; k < iterations; k++) {
      const inTx = k % 10 === 9;
      if (inTx) await client.query('BEGIN');
      for (const step of order) await step(k);
      if (inTx) await client.query('COMMIT');
    }
  } finally {
    await client.end();
  }
}

async function main() {
  const clients = arg('clients', 8);
  const iterations = arg('iterations', 100);
  const runs = [];
  for (let i = 0; i < clients; i++) {
    runs.push(runClient(i, iterations).catch((e) => tally.errors.push(`client ${i}: ${e.message}`)));
  }
  await Promise.all(runs);
  if (tally.errors.length) {
    console.log(`${LIB}: FAILED: ${tally.errors.length} errors after ${tally.queries} checked results`);
    for (const e of tally.errors.slice(0, 10)) console.log(`  ${e}`);
    return 1;
  }
  console.log(`${LIB}: OK clients=${clients} iterations=${iterations} checked=${tally.queries}`);
  return 0;
}

function finish(rc) {
  process.exitCode = rc;
  // a connection left half-open by a failure must not keep node alive
  setTimeout(() => process.exit(rc), 2000).unref();
}

main().then(finish, (e) => { console.log(`${LIB}: FAILED: ${e.stack}`); finish(1); });
