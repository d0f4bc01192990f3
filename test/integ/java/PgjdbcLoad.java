// pgjdbc through a pooler in transaction mode: batch inserts (addBatch /
// executeBatch, reWriteBatchedInserts=false, so one Parse/Bind/Execute per
// row in one pipeline), server-side prepared statements from the first
// execution (prepareThreshold=1, binary transfer), large values, and a
// type change under a cached statement, checked end to end.
//
// Run by test/integ/37-pgjdbc.t: compiled with javac into a temp dir and
// run with Debian's /usr/share/java/postgresql.jar on the classpath.
// Connection from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Tables
// items (id int primary key, t text, n numeric, ts timestamptz, j jsonb,
// b bytea), empty, and tt (id int primary key, val int) with rows
// (1, 1) .. (5, 5) must exist.
//
// Phase 1: --threads threads, one connection each (more than the pooler's
// pool); odd threads in explicit transactions (autocommit off, commit per
// batch), even threads in autocommit. Thread w, round k (ids w * 100000 +
// k * 1000 + r): a batch of 50 small rows (every tenth all NULL but the
// key), one row with a 1,000,000-character multibyte text and a 4 KB
// bytea with every byte value, every row read back with a prepared
// SELECT and compared, aggregates.
//
// Phase 2, a type change under a cached statement: 4 connections each run
// "SELECT id, val FROM tt WHERE id = ?" (int result, cached server side,
// binary) 5 times; another connection runs ALTER TABLE tt ALTER COLUMN
// val TYPE text USING 'v' || val::text; then each connection runs the
// same PreparedStatement for ids 1..5, 4 times each. PostgreSQL answers a
// stale plan with 0A000 "cached plan must not change result type" and
// pgjdbc re-prepares: one such error per execution is allowed and retried;
// any other error, an int, or any value but "v<id>" is a failure.
//
// --load-only and --type-change-only run one phase.
//
// Every statement is bounded (socketTimeout) and so is the run
// (--deadline). Prints "pgjdbc: OK ... checked=N" and exits 0, or
// "pgjdbc: FAILED ..." and exits 1 (2 on a hang).

import java.math.BigDecimal;
import java.sql.*;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicInteger;

public class PgjdbcLoad {
    static final String LIB = "pgjdbc";
    static final String PATTERN = "sluice \u2713 \u00fcn\u00ef \uD83D\uDE00 \u65e5\u672c xy";
    static final int BIG_CHARS = 1000000;
    static final Instant TS0 = Instant.parse("2024-02-29T12:34:56.789Z");

    static final AtomicInteger checked = new AtomicInteger();
    static final List<String> errors = Collections.synchronizedList(new ArrayList<>());
    static final Map<String, String> step = new ConcurrentHashMap<>();
    static final AtomicInteger staleRetries = new AtomicInteger();

    static void check(String what, String diff) {
        checked.incrementAndGet();
        if (diff != null && !diff.isEmpty()) errors.add(what + ": " + diff);
    }

    static String url() {
        return "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
            + System.getenv("PGDATABASE") + "?prepareThreshold=1&reWriteBatchedInserts=false"
            + "&connectTimeout=30&socketTimeout=30&sslmode=disable&gssEncMode=disable";
    }

    static Connection connect() throws SQLException {
        return DriverManager.getConnection(url(), System.getenv("PGUSER"), System.getenv("PGPASSWORD"));
    }

    static String bigText(int id) {
        if (PATTERN.codePointCount(0, PATTERN.length()) != 20) throw new IllegalStateException("pattern");
        return String.format("%019d:", id) + PATTERN.repeat((BIG_CHARS - 20) / 20);
    }

    static byte[] bigBytes(int id) {
        byte[] b = new byte[4096];
        for (int x = 0; x < 4096; x++) b[x] = (byte) ((x + id) % 256);
        return b;
    }

    // a row: id, t, n, ts, j (as PostgreSQL prints jsonb), b
    record Row(int id, String t, BigDecimal n, OffsetDateTime ts, String j, byte[] b) {}

    static Row bigRow(int id) {
        return new Row(id, bigText(id), new BigDecimal("-" + id + "98765432109876543210.01234567890123456789"),
            OffsetDateTime.ofInstant(TS0.plusSeconds(id), ZoneOffset.UTC),
            "{\"a\": [1, 2.5, null, true], \"o\": {\"k\": \"v\"}, \"s\": \"\u00fc\u20ac\uD83D\uDE00\", \"id\": " + id + "}",
            bigBytes(id));
    }

    static Row smallRow(int id) {
        if (id % 10 == 9) return new Row(id, null, null, null, null, null);
        return new Row(id, "small " + id + " \u00fcn\u00ef \uD83D\uDE00", new BigDecimal(id + ".125"),
            OffsetDateTime.ofInstant(TS0.plusSeconds(id), ZoneOffset.UTC),
            "{\"s\": \"\u00fc\u20ac\", \"id\": " + id + "}", new byte[] {(byte) (id % 256), 0, (byte) 255, 39, 92});
    }

    static String show(Object v) {
        if (v == null) return "null";
        if (v instanceof byte[] b) return "bytes(len=" + b.length + ")";
        String s = v.toString();
        return s.length() > 40 ? "string(len=" + s.length() + ", " + s.substring(0, 20) + "...)" : s;
    }

    static String diff(Row g, Row w) {
        if (g == null) return "no row, want id " + w.id;
        StringBuilder sb = new StringBuilder();
        if (g.id != w.id) sb.append("id: got ").append(g.id).append("; ");
        if (!Objects.equals(g.t, w.t)) sb.append("t: got ").append(show(g.t)).append(", want ").append(show(w.t)).append("; ");
        if (!Objects.equals(g.n, w.n)) sb.append("n: got ").append(show(g.n)).append(", want ").append(show(w.n)).append("; ");
        if (!(g.ts == null ? w.ts == null : w.ts != null && g.ts.toInstant().equals(w.ts.toInstant())))
            sb.append("ts: got ").append(show(g.ts)).append(", want ").append(show(w.ts)).append("; ");
        if (!Objects.equals(g.j, w.j)) sb.append("j: got ").append(show(g.j)).append(", want ").append(show(w.j)).append("; ");
        if (!Arrays.equals(g.b, w.b)) sb.append("b: got ").append(show(g.b)).append(", want ").append(show(w.b)).append("; ");
        return sb.toString();
    }

    static void bind(PreparedStatement ps, Row r) throws SQLException {
        ps.setInt(1, r.id);
        ps.setString(2, r.t);
        ps.setBigDecimal(3, r.n);
        ps.setObject(4, r.ts, Types.TIMESTAMP_WITH_TIMEZONE);
        ps.setString(5, r.j);
        ps.setBytes(6, r.b);
    }

    static Row read(ResultSet rs) throws SQLException {
        return new Row(rs.getInt(1), rs.getString(2), rs.getBigDecimal(3), rs.getObject(4, OffsetDateTime.class),
            rs.getString(5), rs.getBytes(6));
    }

    static final String INSERT = "INSERT INTO items (id, t, n, ts, j, b) VALUES (?, ?, ?, ?, ?::jsonb, ?)";
    static final String SELECT = "SELECT id, t, n, ts, j, b FROM items WHERE id = ?";

    static void worker(int w, int rounds) throws SQLException {
        boolean tx = w % 2 == 1;
        step.put("thread " + w, "connect");
        try (Connection c = connect()) {
            c.setAutoCommit(!tx);
            try (PreparedStatement ins = c.prepareStatement(INSERT); PreparedStatement sel = c.prepareStatement(SELECT);
                 PreparedStatement agg = c.prepareStatement(
                     "SELECT count(*), sum(id), sum(length(t)), sum(octet_length(b)) FROM items WHERE id BETWEEN ? AND ?")) {
                for (int k = 0; k < rounds; k++) {
                    int base = w * 100000 + k * 1000;
                    String tag = "thread " + w + " round " + k;
                    List<Row> rows = new ArrayList<>();
                    step.put("thread " + w, "round " + k + ": batch of 50");
                    for (int r = 1; r <= 50; r++) {
                        Row row = smallRow(base + r);
                        rows.add(row);
                        bind(ins, row);
                        ins.addBatch();
                    }
                    int[] counts = ins.executeBatch();
                    check(tag + ": batch update counts", counts.length == 50 && Arrays.stream(counts).allMatch(x -> x == 1)
                        ? "" : "got " + Arrays.toString(counts));
                    if (tx) c.commit();
                    step.put("thread " + w, "round " + k + ": large row");
                    Row big = bigRow(base);
                    rows.add(0, big);
                    bind(ins, big);
                    check(tag + ": large row insert", ins.executeUpdate() == 1 ? "" : "not 1 row");
                    if (tx) c.commit();
                    step.put("thread " + w, "round " + k + ": prepared SELECTs");
                    for (Row want : rows) {
                        sel.setInt(1, want.id);
                        Row got = null;
                        int n = 0;
                        try (ResultSet rs = sel.executeQuery()) {
                            while (rs.next()) { got = read(rs); n++; }
                        }
                        check(tag + ": row " + want.id, n == 1 ? diff(got, want) : n + " rows");
                    }
                    step.put("thread " + w, "round " + k + ": aggregates");
                    agg.setInt(1, base);
                    agg.setInt(2, base + 999);
                    try (ResultSet rs = agg.executeQuery()) {
                        rs.next();
                        long cnt = rs.getLong(1), sum = rs.getLong(2), len = rs.getLong(3), oct = rs.getLong(4);
                        long wsum = 0, wlen = 0, woct = 0;
                        for (Row r : rows) {
                            wsum += r.id;
                            if (r.t != null) wlen += r.t.codePointCount(0, r.t.length());
                            if (r.b != null) woct += r.b.length;
                        }
                        String want = "51/" + wsum + "/" + wlen + "/" + woct, got = cnt + "/" + sum + "/" + len + "/" + oct;
                        check(tag + ": aggregates", got.equals(want) ? "" : "got " + got + ", want " + want);
                    }
                    if (tx) c.commit();
                }
            }
        }
        step.put("thread " + w, "done");
    }

    static final String TT = "SELECT id, val FROM tt WHERE id = ?";

    static void typeChange() throws Exception {
        List<Connection> conns = new ArrayList<>();
        List<PreparedStatement> stmts = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                Connection c = connect();
                conns.add(c);
                stmts.add(c.prepareStatement(TT));
            }
            step.put("type change", "int result, cached");
            for (int i = 0; i < 4; i++) {
                for (int x = 0; x < 5; x++) {
                    PreparedStatement ps = stmts.get(i);
                    ps.setInt(1, 1 + x);
                    try (ResultSet rs = ps.executeQuery()) {
                        String d = "no row";
                        if (rs.next()) {
                            Object v = rs.getObject(2);
                            d = v instanceof Integer && (Integer) v == 1 + x ? "" : "got " + show(v) + " (" +
                                (v == null ? "null" : v.getClass().getSimpleName()) + ")";
                        }
                        check("type change: connection " + i + " before, id " + (1 + x), d);
                    }
                }
            }
            step.put("type change", "ALTER TABLE");
            try (Connection a = connect(); Statement s = a.createStatement()) {
                s.execute("ALTER TABLE tt ALTER COLUMN val TYPE text USING 'v' || val::text");
            }
            step.put("type change", "text result under the cached statement");
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < 4; i++) {
                    for (int id = 1; id <= 5; id++) {
                        PreparedStatement ps = stmts.get(i);
                        String what = "type change: connection " + i + " after, round " + round + ", id " + id;
                        String d = null;
                        for (int attempt = 0; attempt < 2 && d == null; attempt++) {
                            ps.setInt(1, id);
                            try (ResultSet rs = ps.executeQuery()) {
                                if (!rs.next()) { d = "no row"; break; }
                                Object v = rs.getObject(2);
                                String type = rs.getMetaData().getColumnTypeName(2);
                                d = v instanceof String && v.equals("v" + id) && type.equals("text") ? "" :
                                    "got " + show(v) + " (" + (v == null ? "null" : v.getClass().getSimpleName())
                                    + ", column type " + type + "), want \"v" + id + "\" (text)";
                                if (rs.next()) d = "more than one row";
                            } catch (SQLException e) {
                                if ("0A000".equals(e.getSQLState()) && attempt == 0) {
                                    staleRetries.incrementAndGet();   // pgjdbc re-prepares next time
                                    continue;
                                }
                                d = "error " + e.getSQLState() + ": " + e.getMessage().split("\n")[0];
                            }
                        }
                        check(what, d == null ? "0A000 twice in a row: pgjdbc did not recover" : d);
                    }
                }
            }
            step.put("type change", "done");
        } finally {
            for (Connection c : conns) c.close();
        }
    }

    static int arg(String[] args, String name, int dflt) {
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals("--" + name)) return Integer.parseInt(args[i + 1]);
        return dflt;
    }

    public static void main(String[] args) throws Exception {
        int threads = arg(args, "threads", 8), rounds = arg(args, "rounds", 5), deadline = arg(args, "deadline", 50);
        boolean load = !Arrays.asList(args).contains("--type-change-only");
        boolean change = !Arrays.asList(args).contains("--load-only");
        if (!load) threads = 0;
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(threads, 1), r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        List<Future<?>> fs = new ArrayList<>();
        for (int w = 0; w < threads; w++) {
            final int ww = w;
            fs.add(pool.submit(() -> {
                try {
                    worker(ww, rounds);
                } catch (Exception e) {
                    errors.add("thread " + ww + " at " + step.get("thread " + ww) + ": " + e);
                }
            }));
        }
        long end = t0 + deadline * 1_000_000_000L;
        boolean hung = false;
        for (Future<?> f : fs) {
            try {
                f.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                hung = true;
                break;
            }
        }
        if (!hung && change) {
            Future<?> tc = pool.submit(() -> {
                try {
                    typeChange();
                } catch (Exception e) {
                    errors.add("type change at " + step.get("type change") + ": " + e);
                }
            });
            try {
                tc.get(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                hung = true;
            }
        }
        if (hung) {
            System.out.println(LIB + ": FAILED: hang: still running after " + deadline + "s (" + checked.get()
                + " checked, " + errors.size() + " errors)");
            for (Map.Entry<String, String> e : new TreeMap<>(step).entrySet())
                if (!e.getValue().equals("done")) System.out.println("  " + e.getKey() + " at " + e.getValue());
            synchronized (errors) { errors.stream().limit(10).forEach(e -> System.out.println("  " + e)); }
            System.out.flush();
            Runtime.getRuntime().halt(2);
        }
        if (!errors.isEmpty()) {
            System.out.println(LIB + ": FAILED: " + errors.size() + " errors after " + checked.get() + " checked results");
            synchronized (errors) {
                errors.stream().limit(15).forEach(e -> System.out.println("  " + e));
                // every error by kind (numbers left out), so none hides behind the first 15
                Map<String, Long> kinds = new TreeMap<>();
                for (String e : errors) kinds.merge(e.replaceAll("[0-9]+", "N"), 1L, Long::sum);
                System.out.println("  errors by kind:");
                kinds.forEach((k, v) -> System.out.println("    " + v + " x " + k));
            }
            System.out.flush();
            Runtime.getRuntime().halt(1);
        }
        System.out.printf("%s: OK threads=%d rounds=%d stale_plan_retries=%d seconds=%.1f checked=%d%n", LIB, threads,
            rounds, staleRetries.get(), (System.nanoTime() - t0) / 1e9, checked.get());
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}
