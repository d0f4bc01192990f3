# The migration gate's semantics (doc/migrations.md): held transactions
# start only after RESUME; the drain deadline and its report; the cancel
# policy; bypass clients with a session server of their own; the hold
# timeout; gate_max_pause; the auto gate; session-mode boundaries; PAUSE
# and RESUME from several consoles; refresh of servers at RESUME.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use HTTP::Tiny;
use SluiceTest qw(run_cmd);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_role('migrator', 'mig_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', 'CREATE TABLE t (id int primary key, v int); INSERT INTO t VALUES (1, 10);'
	       . 'GRANT ALL ON t TO app, migrator; ALTER TABLE t OWNER TO migrator');
my $mport = SluiceTest::free_port();
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app'), appsess => $pg->connstr('app') . ' pool_mode=session' },
	users => { app => 'app_pw', admin => 'admin_pw', migrator => 'mig_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
		      default_pool_size => 2, gate_bypass_users => 'migrator', query_wait_timeout => 1,
		      metrics_listen => "127.0.0.1:$mport" },
	default_user => 'app',
);

sub console { $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer') }
sub app     { my $db = shift // 'app'; $sl->proto(user => 'app', password => 'app_pw', dbname => $db, @_) }
sub migrator { my $db = shift // 'app'; $sl->proto(user => 'migrator', password => 'mig_pw', dbname => $db) }
sub send_query { my ($c, $sql) = @_; $c->send(SluiceTest::Proto::msg('Q', "$sql\0")) }
sub gate_row
{
	my ($c, $db) = @_;
	my $r = $c->query('SHOW GATES');
	for my $row (@{ $r->{rows} }) {
		my %h = map { ($r->{columns}[$_] => $row->[$_]) } 0 .. $#$row;
		return \%h if $h{database} eq ($db // 'app');
	}
	return {};
}
sub pg_now { $pg->safe_psql('postgres', "SELECT extract(epoch FROM clock_timestamp())") }

my $adm = console();

# ---- a held transaction starts only after RESUME; query_wait_timeout does not apply ----
{
	my $b = app();
	is($b->query_value('SELECT 1'), 1, 'a client logged in');
	is_deeply($adm->query('PAUSE app')->{tags}, ['PAUSE'], 'PAUSE app (nothing in flight)');
	is(gate_row($adm)->{state}, 'closed', 'SHOW GATES: closed');
	send_query($b, 'SELECT extract(epoch FROM now())');
	is($b->read_results(1.5)->{lost}, 'timed out', 'its next transaction is held (past query_wait_timeout = 1 s)');
	is(gate_row($adm)->{held}, 1, 'SHOW GATES: one client held');
	my $before_resume = pg_now();
	is_deeply($adm->query('RESUME app')->{tags}, ['RESUME'], 'RESUME app');
	my $r = $b->read_results(10);
	ok(!@{ $r->{errors} }, 'the held query gets no error');
	cmp_ok($r->{rows}[0][0], '>', $before_resume, 'its transaction began after RESUME (PostgreSQL time)');
	my $g = gate_row($adm);
	is($g->{last_held}, 1, 'SHOW GATES: the window held one client');
	cmp_ok($g->{last_longest_hold_s}, '>=', 1.4, 'SHOW GATES: longest hold covers the wait');
	$b->terminate;
}

# ---- transactions in flight are counted: every way out of one ends the drain ----
# (the gate is told by the link at each transaction's start and end; it
# does not walk the clients to find out)
$sl->expect_log(qr/WARNING C-\d+ app\/app\S+ pooler error: server closed the connection unexpectedly \(sqlstate=08006\)/);
{
	my $x = app();
	my $y = app();
	$x->query('BEGIN');
	$y->query('BEGIN');
	my $ypid = $y->query_value('SELECT pg_backend_pid()');
	is(gate_row($adm)->{in_flight}, 2, 'SHOW GATES: two transactions in flight');
	my $adm2 = console();
	my $t0 = time;
	send_query($adm2, 'PAUSE app TIMEOUT 30');
	my $g = {};
	for (1 .. 50) { $g = gate_row($adm); last if $g->{state} eq 'draining'; select(undef, undef, undef, 0.05) }
	is($g->{state}, 'draining', 'PAUSE waits for them');
	$x->terminate;   # a client that leaves inside its transaction
	for (1 .. 50) { $g = gate_row($adm); last if $g->{in_flight} == 1; select(undef, undef, undef, 0.05) }
	is($g->{in_flight}, 1, 'one left: one in flight');
	is($g->{state}, 'draining', 'still draining');
	$pg->safe_psql('postgres', "SELECT pg_terminate_backend($ypid)");   # a server lost under one
	my $r = $adm2->read_results(20);
	ok(!@{ $r->{errors} }, 'PAUSE returns once both are out') or diag explain $r->{errors};
	cmp_ok(time - $t0, '<', 15, '... well before its deadline');
	$g = gate_row($adm);
	is($g->{state}, 'closed', 'the gate is closed');
	is($g->{in_flight}, 0, 'nothing in flight');
	is_deeply($adm->query('RESUME app')->{tags}, ['RESUME'], 'RESUME app');
	my $z = app();
	$z->query('BEGIN');
	is(gate_row($adm)->{in_flight}, 1, 'a new transaction is counted');
	$z->query('COMMIT');
	is(gate_row($adm)->{in_flight}, 0, '... and its COMMIT too');
	$_->terminate for $y, $z, $adm2;
}

# ---- bypass: runs while the gate is closed, even with the pool full of held sessions ----
{
	my @s = map { app('appsess') } 1 .. 2;   # session mode: each owns one of the 2 servers
	$_->query_value('SELECT 1') for @s;
	is_deeply($adm->query('PAUSE appsess')->{tags}, ['PAUSE'], 'PAUSE appsess (sessions between transactions)');
	send_query($_, 'SELECT 2') for @s;
	is($s[0]->read_results(0.5)->{lost}, 'timed out', 'session clients are held at their next transaction');
	my $m = migrator('appsess');
	is($m->query_value('SELECT 3'), 3, 'a bypass client runs while the gate is closed and the pool is full');
	is(gate_row($adm, 'appsess')->{bypass}, 1, 'SHOW GATES: one bypass client');
	$m->terminate;
	$adm->query('RESUME appsess');
	is($_->read_results(10)->{rows}[0][0], 2, 'held session clients go on after RESUME') for @s;
	$_->terminate for @s;
}

# ---- session mode: gated at the transaction boundary ----
{
	my $s = app('appsess');
	is($s->query('BEGIN')->{status}, 'T', 'a session client opens a transaction');
	$s->query('SELECT 1');
	send_query($adm, 'PAUSE appsess');
	is($adm->read_results(0.5)->{lost}, 'timed out', 'PAUSE waits for the session transaction');
	is($s->query('SELECT 2')->{rows}[0][0], 2, 'the transaction goes on');
	is($s->query('COMMIT')->{status}, 'I', 'and commits');
	is_deeply($adm->read_results(10)->{tags}, ['PAUSE'], 'then PAUSE returns, the session still connected');
	send_query($s, 'SELECT 3');
	is($s->read_results(0.5)->{lost}, 'timed out', 'its next transaction is held although it keeps its server');
	$adm->query('RESUME appsess');
	is($s->read_results(10)->{rows}[0][0], 3, 'and runs after RESUME');
	$s->terminate;
}

# ---- the drain deadline: reopen and report ----
# (here and in the next section)
$sl->expect_log(qr/WARNING database app: drain deadline passed; gate reopened \(window \d+\)\. Still running:/,
		qr/ pgbouncer\/admin\S+ pooler error: PAUSE app: the drain deadline passed; the gate reopened \(window \d+\) \(sqlstate=55P03\)/);
{
	my $a = app();
	$a->query('BEGIN');
	$a->query('SELECT 42 AS long_running_marker');
	my $t0 = time;
	my $r = $adm->query('PAUSE app TIMEOUT 1', timeout => 10);
	my $took = time - $t0;
	is($r->{errors}[0]{C}, '55P03', 'PAUSE with an expired deadline fails (55P03)');
	like($r->{errors}[0]{M}, qr/drain deadline passed; the gate reopened/, '... saying the gate reopened');
	like($r->{errors}[0]{D} // '', qr/db app user app: transaction [\d.]+ s, idle in transaction, query: SELECT 42 AS long_running_marker/,
	     '... and naming the transaction that still ran (database, user, age, state, query)') or diag explain $r->{errors};
	cmp_ok($took, '>=', 0.9, 'after the deadline');
	is(gate_row($adm)->{state}, 'open', 'the gate is open again');
	is($a->query('COMMIT')->{status}, 'I', 'the long transaction was not disturbed');
	is($a->query_value('SELECT 5'), 5, 'and traffic goes on');
	is(gate_row($adm)->{last_errors}, 1, 'SHOW GATES counts the failed window');
	$a->terminate;
}

# ---- the drain deadline's log line names queries by their command words only ----
# (query text can hold a password); log_query_text = 1 logs the text
{
	for my $on (0, 1) {
		$adm->query("SET log_query_text = $on");
		my $a = app();
		$a->query('BEGIN');
		is($a->query(q{ALTER ROLE app PASSWORD 'app_pw'})->{status}, 'T', "log_query_text = $on: a transaction changes a password");
		my $re = qr/WARNING database app: drain deadline passed; gate reopened \(window \d+\)\. Still running:(.*)$/m;
		my $before = () = $sl->log_contents =~ /$re/g;
		my $r = $adm->query('PAUSE app TIMEOUT 1', timeout => 10);
		is($r->{errors}[0]{C}, '55P03', '... outlives the drain deadline');
		like($r->{errors}[0]{D} // '', qr/query: ALTER ROLE app PASSWORD 'app_pw'/,
		     '... PAUSE\'s DETAIL (to the admin console) has the query text');
		my @lines;
		ok(SluiceTest::wait_for(sub { (@lines = $sl->log_contents =~ /$re/g) > $before }),
		   '... the log says what still ran');
		my $line = $lines[-1];
		if ($on) {
			like($line // '', qr/query: ALTER ROLE app PASSWORD 'app_pw'/, '... with the query text (log_query_text = 1)');
		} else {
			like($line // '', qr/query: ALTER ROLE \.\.\.$/, '... naming the query ALTER ROLE only');
			unlike($line // '', qr/app_pw/, '... not its literals');
		}
		is($a->query('ROLLBACK')->{status}, 'I', '... which rolls back');
		$a->terminate;
	}
	$adm->query('SET log_query_text = 0');
}

# ---- the cancel policy ----
{
	$adm->query('SET gate_drain_policy = cancel');
	$sl->expect_log(qr/WARNING database app: drain deadline passed; cancelling what still runs$/);
	my $a = app();
	send_query($a, 'SELECT pg_sleep(30) /* to cancel */');
	ok(SluiceTest::wait_for(sub { $pg->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity }
				. q{WHERE state = 'active' AND query = 'SELECT pg_sleep(30) /* to cancel */'}) == 1 }, timeout => 10),
	   'policy cancel: a query runs');
	my $r = $adm->query('PAUSE app TIMEOUT 1', timeout => 15);
	is_deeply($r->{tags}, ['PAUSE'], 'policy cancel: PAUSE closes the gate after cancelling') or diag explain $r;
	my $ar = $a->read_results(5);
	is($ar->{errors}[0]{C}, '57014', 'the cancelled client gets the usual cancel error');
	$adm->query('RESUME app');
	is($a->query_value('SELECT 6'), 6, 'and its connection works on');
	$adm->query('SET gate_drain_policy = reopen');
	$a->terminate;
}

# ---- gate_hold_timeout ----
{
	$adm->query('SET gate_hold_timeout = 1');
	$sl->expect_log(qr/ app\/app\S+ pooler error: database "app" is paused for a migration: held longer than gate_hold_timeout \(1 s\) \(sqlstate=55P03\)/);
	my $b = app();
	$b->query('SELECT 1');
	$adm->query('PAUSE app');
	my $r = $b->query('SELECT 7', timeout => 10);
	is($r->{errors}[0]{C}, '55P03', 'a client held past gate_hold_timeout gets ERROR 55P03');
	like($r->{errors}[0]{M}, qr/paused for a migration: held longer than gate_hold_timeout/, '... with a clear message');
	is($r->{status}, 'I', '... and a ReadyForQuery: the connection stays usable');
	$adm->query('RESUME app');
	is($b->query_value('SELECT 8'), 8, 'after RESUME it works');
	is(gate_row($adm)->{last_errors}, 1, 'SHOW GATES counts the timeout');
	$adm->query('SET gate_hold_timeout = 60');
	$b->terminate;
}

# ---- gate_max_pause ----
{
	$adm->query('SET gate_max_pause = 1');
	$sl->expect_log(qr/WARNING database app: gate closed longer than gate_max_pause \(1 s\): reopening$/);
	$adm->query('PAUSE app');
	ok(SluiceTest::wait_for(sub { gate_row($adm)->{state} eq 'open' }, timeout => 5),
	   'a gate closed longer than gate_max_pause reopens by itself');
	like($sl->log_contents, qr/gate closed longer than gate_max_pause .* reopening/, '... and the log says why');
	$adm->query('SET gate_max_pause = 300');
}

# ---- two consoles: PAUSE twice, RESUME twice, a stale window ----
{
	$sl->expect_log(qr/ pgbouncer\/admin\S+ pooler error: window \d+ of database app is over \(the current one is \d+\) \(sqlstate=55000\)/,
			qr/ pgbouncer\/admin\S+ pooler error: database app is not paused \(sqlstate=55000\)/);
	my $adm2 = console();
	my $a = app();
	$a->query('BEGIN');
	$a->query('SELECT 1');
	send_query($adm, 'PAUSE app');
	send_query($adm2, 'PAUSE app');
	is($adm->read_results(0.3)->{lost}, 'timed out', 'first PAUSE waits');
	is($adm2->read_results(0.3)->{lost}, 'timed out', 'second PAUSE waits for the same window');
	$a->query('COMMIT');
	is_deeply($adm->read_results(10)->{tags}, ['PAUSE'], 'both return when the window closes (1)');
	is_deeply($adm2->read_results(10)->{tags}, ['PAUSE'], 'both return when the window closes (2)');
	my $w = gate_row($adm)->{window};
	like($adm->query('RESUME app WINDOW ' . ($w - 1))->{errors}[0]{M} // '', qr/is over/, 'RESUME of a stale window is refused');
	is(gate_row($adm)->{state}, 'closed', '... and leaves the gate closed');
	is_deeply($adm2->query("RESUME app WINDOW $w")->{tags}, ['RESUME'], 'RESUME of the current window');
	is($adm->query('RESUME app')->{errors}[0]{C}, '55000', 'a second RESUME: not paused, no harm');
	is($a->query_value('SELECT 9'), 9, 'traffic flows');
	$a->terminate;
	$adm2->terminate;
}

# ---- bypass: a dedicated session server in transaction mode (advisory lock) ----
{
	my $m = migrator();
	is($m->query('SELECT pg_advisory_lock(4242)')->{status}, 'I', 'the bypass client takes a session advisory lock');
	my $pid = $m->query_value('SELECT pg_backend_pid()');
	is($m->query('BEGIN; SELECT 1; COMMIT')->{status}, 'I', 'another transaction');
	is($m->query_value('SELECT pg_backend_pid()'), $pid, 'on the same server connection');
	is($pg->safe_psql('app', "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND pid = $pid"),
	   1, 'PostgreSQL shows the lock held by that backend across transactions');
	is($m->query_value('SELECT pg_advisory_unlock(4242)'), 't', 'and the bypass client releases it');
	$m->terminate;
}

# ---- the auto gate ----
{
	$adm->query('SET gate_auto = 1');
	my $b = app();
	$b->query('SELECT 1');
	my $m = migrator();
	ok(SluiceTest::wait_for(sub { gate_row($adm)->{state} eq 'closed' }, timeout => 5),
	   'gate_auto: a bypass login closes the gate');
	send_query($b, 'SELECT 10');
	is($b->read_results(0.5)->{lost}, 'timed out', 'application work is held');
	is($m->query_value('SELECT 11'), 11, 'the migrator runs');
	$m->terminate;
	is($b->read_results(10)->{rows}[0][0], 10, 'its logout reopens the gate: the held work runs');
	is(gate_row($adm)->{state}, 'open', 'SHOW GATES: open');
	$adm->query('SET gate_auto = 0');
	$b->terminate;
}

# ---- RESUME refreshes servers: prepared statements survive a column type change ----
for my $reset ('discard', 'none') {
	$adm->query("SET gate_resume_reset = $reset");
	my $dir = SluiceTest::new_tempdir('prep');
	my $py = <<'PY';
import sys, os, time, psycopg
conninfo, d = sys.argv[1], sys.argv[2]
c = psycopg.connect(conninfo, autocommit=True)
q = "SELECT v FROM t WHERE id = %s"
print("first", c.execute(q, (1,), prepare=True).fetchone()[0], flush=True)
open(d + "/ready", "w").close()
while not os.path.exists(d + "/go"):
    time.sleep(0.02)
try:
    print("second", c.execute(q, (1,), prepare=True).fetchone()[0], flush=True)
except Exception as e:
    print("error", getattr(e, "sqlstate", None), str(e).splitlines()[0], flush=True)
PY
	my $pid = SluiceTest::spawn([ '/usr/bin/python3', '-c', $py, $sl->connstr(user => 'app', password => 'app_pw'), $dir ],
				    stdout => "$dir/out", stderr => "$dir/err");
	ok(SluiceTest::wait_for(sub { -e "$dir/ready" }, timeout => 20), "$reset: a psycopg client prepared a statement")
	    or diag(SluiceTest::slurp("$dir/err"));
	is_deeply($adm->query('PAUSE app')->{tags}, ['PAUSE'], "$reset: PAUSE");
	my $type = $reset eq 'discard' ? 'bigint' : 'int';
	my $m = migrator();
	is($m->query("ALTER TABLE t ALTER COLUMN v TYPE $type")->{status}, 'I', "$reset: the migration changes the column's type");
	$m->terminate;
	$adm->query('RESUME app');
	open(my $fh, '>', "$dir/go") or die;
	close $fh;
	SluiceTest::wait_pid($pid, 20);
	my $out = SluiceTest::slurp("$dir/out");
	if ($reset eq 'discard') {
		like($out, qr/^second 10$/m, 'discard: the prepared statement runs after the change, no error')
		    or diag($out . SluiceTest::slurp("$dir/err"));
	} else {
		like($out, qr/cached plan must not change result type/,
		     'none: without the refresh PostgreSQL refuses the stale plan (what discard prevents)')
		    or diag($out . SluiceTest::slurp("$dir/err"));
	}
}

# ---- the schema version before and after a window ----
{
	$pg->safe_psql('app', "CREATE TABLE alembic_version (version_num varchar(32) primary key);"
		       . "INSERT INTO alembic_version VALUES ('0041abc'); ALTER TABLE alembic_version OWNER TO migrator;"
		       . 'GRANT SELECT ON alembic_version TO app');
	my $b = app();
	$b->query('SELECT 1');   # an idle server to read the version with
	is_deeply($adm->query('PAUSE app')->{tags}, ['PAUSE'], 'schema: PAUSE');
	my $m = migrator();
	is($m->query("UPDATE alembic_version SET version_num = '0042def'")->{status}, 'I', 'the migration moves alembic_version');
	$m->terminate;
	$adm->query('RESUME app');
	my $g;
	ok(SluiceTest::wait_for(sub { $g = gate_row($adm); $g->{schema_after} ne '' }, timeout => 5),
	   'SHOW GATES gets the version after the window');
	is($g->{schema_before}, 'alembic 0041abc', 'schema_before: read when the gate closed');
	is($g->{schema_after}, 'alembic 0042def', 'schema_after: read at RESUME');
	$b->terminate;
}

# ---- the same figures as metrics ----
{
	my $r = HTTP::Tiny->new(timeout => 10)->get("http://127.0.0.1:$mport/metrics");
	is($r->{status}, 200, 'GET /metrics');
	my %m;
	for (split /\n/, $r->{content}) {
		$m{$1} = $2 if /^(sluice_gate_\S+) (\S+)$/;
	}
	my $g = gate_row($adm);
	is($m{'sluice_gate_state{database="app",state="open"}'}, 1, 'sluice_gate_state: app is open');
	is($m{'sluice_gate_state{database="app",state="closed"}'}, 0, '... not closed');
	is($m{'sluice_gate_held_clients{database="app"}'}, 0, 'sluice_gate_held_clients');
	my $windows = () = $sl->log_contents =~ /database app: gate open -> draining/g;
	is($m{'sluice_gate_windows_total{database="app"}'}, $windows, "sluice_gate_windows_total counts the $windows windows of app");
	cmp_ok($m{'sluice_gate_errors_total{database="app"}'}, '>=', 3,
	       'sluice_gate_errors_total: the failed drain, the hold timeout, gate_max_pause');
	is($m{'sluice_gate_last_held_clients{database="app"}'}, $g->{last_held}, 'sluice_gate_last_held_clients as SHOW GATES');
	like($r->{content}, qr/^# TYPE sluice_gate_windows_total counter$/m, 'TYPE lines');
}

$adm->terminate;

done_testing();
