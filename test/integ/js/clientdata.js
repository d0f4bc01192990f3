'use strict';
// The rows pg_pool_load.js and postgres_js_load.mjs write and check, how
// they compare them, and the tally, deadline and summary line both print.
// CommonJS: required by the .js, imported by the .mjs (default import).
//
// A large row for an id: a 1,000,000-character multibyte text (the id
// zero-padded to 19 digits, a colon, then PATTERN; test/lib/SluiceTest/
// Clients.pm builds the same string and checks its md5), a 4 KB bytea with
// every byte value, a 40-digit numeric, a timestamptz and a jsonb. A small
// row: short values, all NULL but the key when the id ends in 9.

const PATTERN = 'sluice \u2713 \u00fcn\u00ef \u{1F600} \u65e5\u672c xy';
const BIG_CHARS = 1000000;
const TS0 = Date.parse('2024-02-29T12:34:56.789Z');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function bigText(id) {
  if ([...PATTERN].length !== 20) throw new Error('pattern is not 20 characters');
  return String(id).padStart(19, '0') + ':' + PATTERN.repeat((BIG_CHARS - 20) / 20);
}

function bigBytes(id) {
  const b = Buffer.alloc(4096);
  for (let x = 0; x < 4096; x++) b[x] = (x + id) % 256;
  return b;
}

// rows as the drivers return them: numeric as a string, timestamptz as a
// Date, jsonb parsed, bytea as a Buffer
function bigRow(id) {
  return {
    id, t: bigText(id), n: `-${id || ''}98765432109876543210.01234567890123456789`, ts: new Date(TS0 + id * 1000),
    j: { id, s: '\u00fc\u20ac\u{1F600}', a: [1, 2.5, null, true], o: { k: 'v' } }, b: bigBytes(id),
  };
}

function smallRow(id) {
  if (id % 10 === 9) return { id, t: null, n: null, ts: null, j: null, b: null };
  return {
    id, t: `small ${id} \u00fcn\u00ef \u{1F600}`, n: `${id}.125`, ts: new Date(TS0 + id * 1000),
    j: { id, s: '\u00fc\u20ac' }, b: Buffer.from([id % 256, 0, 255, 39, 92]),
  };
}

function show(v) {
  if (v === null || v === undefined) return String(v);
  if (Buffer.isBuffer(v)) return `Buffer(len=${v.length})`;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string' && v.length > 40) return `string(len=${v.length}, ${JSON.stringify(v.slice(0, 20))}...)`;
  return JSON.stringify(v);
}

// jsonb does not keep key order: compare with keys sorted
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}

function same(g, w) {
  if (w === null) return g === null;
  if (Buffer.isBuffer(w)) return Buffer.isBuffer(g) && g.equals(w);
  if (w instanceof Date) return g instanceof Date && g.getTime() === w.getTime();
  if (typeof w === 'object') return JSON.stringify(canon(g)) === JSON.stringify(canon(w));
  return g === w;
}

// '' when every column of want is the same in got, else which differ
function diff(got, want) {
  if (!got) return `no row, want id ${want.id}`;
  const out = [];
  for (const k of Object.keys(want)) {
    if (!same(got[k], want[k])) out.push(`${k}: got ${show(got[k])}, want ${show(want[k])}`);
  }
  return out.join('; ');
}

// one per process: results checked, errors, and where each worker is
const tally = { checked: 0, errors: [], step: {} };
function check(what, d) {
  tally.checked++;
  if (d) tally.errors.push(`${what}: ${d}`);
}

// A run still going after deadline seconds is a hang: say where every
// worker is and exit 2. Returns the timer (clearTimeout it when done).
function startDeadline(lib, deadline) {
  return setTimeout(() => {
    console.log(`${lib}: FAILED: hang: still running after ${deadline}s (${tally.checked} checked, `
      + `${tally.errors.length} errors)`);
    for (const [w, s] of Object.entries(tally.step)) if (s !== 'done') console.log(`  worker ${w} at ${s}`);
    for (const e of tally.errors.slice(0, 10)) console.log(`  ${e}`);
    process.exit(2);
  }, deadline * 1000);
}

// The summary line: FAILED and the first errors (exit 2 when one was a
// timeout, else 1), or OK with the settings (e.g. 'max=8 workers=12
// iterations=10'), the seconds since t0 and checked=N.
function finish(lib, settings, t0) {
  if (tally.errors.length) {
    console.log(`${lib}: FAILED: ${tally.errors.length} errors after ${tally.checked} checked results`);
    for (const e of tally.errors.slice(0, 15)) console.log(`  ${e}`);
    process.exit(tally.errors.some((e) => /timeout/i.test(e)) ? 2 : 1);
  }
  console.log(`${lib}: OK ${settings} seconds=${((Date.now() - t0) / 1000).toFixed(1)} checked=${tally.checked}`);
}

module.exports = {
  PATTERN, BIG_CHARS, TS0, arg, bigText, bigBytes, bigRow, smallRow, show, canon, same, diff, tally, check,
  startDeadline, finish,
};
