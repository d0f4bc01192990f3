'use strict';
// node-postgres named queries across a schema change, through sluice.
//
// Run by test/integ/38-statement-shapes.t (node, with `pg` from
// package-lock.json). Arguments: --app URL (the pool under test), --migrator
// URL (a gate bypass user), --console URL (sluice's admin console), --db
// NAME, --how gate|reconnect, --clients N.
//
// For a column's type change (int to text), a column dropped under
// `select *` and a column added under `select *`: N clients run a named
// query (node-postgres sends Parse once per connection, then Bind, Describe
// of the portal, Execute) until it is prepared, then the change runs in a
// gate window (PAUSE, the DDL as the bypass user, RESUME) or before a
// RECONNECT, and every client runs the query again. Each call after the
// change must return the new, correct row (node-postgres reads the
// portal's description on every execution), or fail with 0A000 -- never a
// row of the old shape.
//
// Prints "node shapes: OK ..." and exits 0, or the failures and exits 1.

const { Client } = require('pg');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const CHANGES = {
  type: {
    create: 'CREATE TABLE {t} (id int PRIMARY KEY, val int); INSERT INTO {t} VALUES (1, 1), (2, 2)',
    query: 'SELECT id, val FROM {t} WHERE id = $1',
    before: (i) => ({ id: i, val: i }),
    ddl: "ALTER TABLE {t} ALTER COLUMN val TYPE text USING 'v' || val::text",
    after: (i) => ({ id: i, val: `v${i}` }),
  },
  drop: {
    create: 'CREATE TABLE {t} (id int PRIMARY KEY, val int, extra int); INSERT INTO {t} VALUES (1, 1, 100), (2, 2, 200)',
    query: 'SELECT * FROM {t} WHERE id = $1',
    before: (i) => ({ id: i, val: i, extra: 100 * i }),
    ddl: 'ALTER TABLE {t} DROP COLUMN extra',
    after: (i) => ({ id: i, val: i }),
  },
  add: {
    create: 'CREATE TABLE {t} (id int PRIMARY KEY, val int); INSERT INTO {t} VALUES (1, 1), (2, 2)',
    query: 'SELECT * FROM {t} WHERE id = $1',
    before: (i) => ({ id: i, val: i }),
    ddl: "ALTER TABLE {t} ADD COLUMN note text DEFAULT 'n'",
    after: (i) => ({ id: i, val: i, note: 'n' }),
  },
};

async function main() {
  const how = arg('how');
  const db = arg('db');
  const n = Number(arg('clients', '5'));
  const failures = [];
  let rows = 0;
  for (const name of Object.keys(CHANGES)) {
    const ch = CHANGES[name];
    const table = `nshape_${name}_${how}`;
    const mig = new Client({ connectionString: arg('migrator') });
    await mig.connect();
    await mig.query(`DROP TABLE IF EXISTS ${table}`);
    await mig.query(ch.create.replaceAll('{t}', table));
    await mig.query(`GRANT ALL ON ${table} TO PUBLIC`);
    const q = ch.query.replaceAll('{t}', table);
    const clients = [];
    for (let k = 0; k < n; k++) {
      const c = new Client({ connectionString: arg('app') });
      await c.connect();
      clients.push(c);
    }
    const run = (c, i) => c.query({ name: `shape_${name}`, text: q, values: [i] });
    await Promise.all(clients.map(async (c, k) => {
      for (let r = 0; r < 3; r++) {
        const i = 1 + ((k + r) % 2);
        const res = await run(c, i);
        if (JSON.stringify(res.rows[0]) !== JSON.stringify(ch.before(i)))
          failures.push(`${name}: before, client ${k}: ${JSON.stringify(res.rows[0])}`);
      }
    }));
    const con = new Client({ connectionString: arg('console') });
    await con.connect();
    if (how === 'gate') {
      await con.query(`PAUSE ${db}`);
      await mig.query(ch.ddl.replaceAll('{t}', table));
      await con.query(`RESUME ${db}`);
    } else {
      await mig.query(ch.ddl.replaceAll('{t}', table));
      await con.query(`RECONNECT ${db}`);
    }
    await con.end();
    await Promise.all(clients.map(async (c, k) => {
      for (let r = 0; r < 3; r++) {
        const i = 1 + ((k + r) % 2);
        try {
          const res = await run(c, i);
          const got = JSON.stringify(res.rows[0]);
          if (got !== JSON.stringify(ch.after(i))) {
            failures.push(`${name}: after, client ${k} call ${r}: ${got}, not ${JSON.stringify(ch.after(i))}`);
            return;
          }
          rows++;
        } catch (e) {
          if (e.code !== '0A000') {
            failures.push(`${name}: after, client ${k} call ${r}: ${e.code} ${e.message}`);
            return;
          }
          return;   // node-postgres keeps the name: no way back but a new connection
        }
      }
    }));
    await Promise.all(clients.map((c) => c.end()));
    await mig.end();
  }
  if (failures.length) {
    console.log('node shapes: FAILED');
    for (const f of failures.slice(0, 20)) console.log(`  ${f}`);
    process.exit(1);
  }
  console.log(`node shapes: OK ${rows} rows after the changes`);
}

main().catch((e) => {
  console.log(`node shapes: FAILED ${e.stack}`);
  process.exit(1);
});
