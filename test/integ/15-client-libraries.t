# Named prepared statements across the pool in transaction mode, through
# the client libraries that use them: pgbench -M prepared (with -M extended
# and -M simple as a baseline), asyncpg, psycopg 3 with prepare_threshold=0
# and node-postgres named queries, 8 clients over default_pool_size=2, every
# result checked by the script that got it. Then, over a pool of one server,
# on the wire: two clients with the same statement name and different texts
# each get their own results; a client cannot use a statement another
# client prepared; Close, re-Parse, a failed Parse and a Parse in a rolled
# back transaction behave as in PostgreSQL; a Parse that sluice answers
# itself inside a transaction keeps the transaction and its server.
# SQL-level PREPARE/EXECUTE is out of scope (unsupported in this mode).
#
# Needs Debian's /usr/bin/python3 with python3-asyncpg and python3-psycopg
# (make deps), node, and npm to install test/integ/js's package-lock.json
# on first use (network needed once).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd spit);
use SluiceTest::Proto qw(msg error_text);

my $PYTHON = $ENV{SLUICE_TEST_PYTHON} // '/usr/bin/python3';
my $JSDIR = "$FindBin::Bin/js";
my $PYDIR = "$FindBin::Bin/py";
my $TODO_PREPARED;   # named prepared statements across the pool: implemented
my $CLIENTS = 8;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', join(";\n",
	'CREATE TABLE lib_items (id int PRIMARY KEY, name text NOT NULL)',
	q{INSERT INTO lib_items SELECT g, 'item' || g FROM generate_series(1, 100) g},
	'CREATE TABLE lib_log (id bigserial PRIMARY KEY, lib text NOT NULL, client int NOT NULL, n int NOT NULL)'),
	user => 'app', password => 'app_pw', host => 'tcp');
{
	my ($out, $err, $rc) = run_cmd(
		[ SluiceTest::Pg::bindir() . '/pgbench', '-i', '-q', '-s', '1', '-h', $pg->host, '-p', $pg->port,
		  '-U', 'app', 'app' ], env => { PGPASSWORD => 'app_pw' }, timeout => 60);
	die "pgbench -i failed ($rc):\n$err" if $rc != 0;
}

my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw' },
	settings => { pool_mode => 'transaction', default_pool_size => 2, auth_type => 'scram-sha-256',
		      query_wait_timeout => 60 },
);
# Where the clients connect. To check the scripts and the expected results
# against PostgreSQL itself, point this (and %target1 below) at $pg.
my %target = (host => $sl->host, port => $sl->port, user => 'app', password => 'app_pw', db => 'app');

sub target_env
{
	return { PGHOST => $target{host}, PGPORT => $target{port}, PGUSER => $target{user},
		 PGPASSWORD => $target{password}, PGDATABASE => $target{db}, PGGSSENCMODE => 'disable',
		 PGCONNECT_TIMEOUT => 30 };
}

# is(), marked TODO: for what sluice before named prepared statements in
# transaction mode got wrong.
sub is_todo
{
	local $TODO = $TODO_PREPARED;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	return is($_[0], $_[1], $_[2]);
}

sub logged_rows
{
	my ($lib) = @_;
	return $pg->safe_psql('app', "SELECT count(*) FROM lib_log WHERE lib = '$lib'");
}

# ---------------------------------------------------------------------------
# a. pgbench, 8 clients over a pool of 2: select-only plus a script with an
#    explicit transaction, in each query mode. One thread per client (-j):
#    in prepared mode pgbench prepares each command with a blocking
#    PQprepare (Parse + Sync) the first time a client runs it, and that
#    blocks every client of the thread; a thread that waits there for a
#    server while its other client holds one inside a transaction deadlocks
#    with the other threads doing the same, over any pooler whose pool is
#    smaller than the number of clients.
{
	my $script = SluiceTest::new_tempdir('pgbench') . '/txn.sql';
	spit($script, <<'SQL', 0644);
\set aid random(1, 100000 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
END;
SQL
	for my $run ([ 'prepared', 5 ], [ 'extended', 3 ], [ 'simple', 3 ]) {
		my ($mode, $secs) = @$run;
		my ($out, $err, $rc) = run_cmd(
			[ SluiceTest::Pg::bindir() . '/pgbench', '-n', '-M', $mode, '-c', $CLIENTS, '-j', $CLIENTS,
			  '-T', $secs, '-b', 'select-only', '-f', $script,
			  '-h', $target{host}, '-p', $target{port}, '-U', $target{user}, $target{db} ],
			env => target_env(), timeout => $secs + 30);
		my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
		my ($failed) = $out =~ /number of failed transactions: (\d+)/;
		{
			local $TODO = $mode eq 'prepared' ? $TODO_PREPARED : undef;
			is($rc, 0, "pgbench -M $mode, $CLIENTS clients for ${secs}s over a pool of 2: exit 0")
			    or diag("stdout:\n$out\nstderr (tail):\n"
				    . join("\n", grep { defined } (split /\n/, $err)[-5 .. -1]));
		}
		is($failed, 0, "pgbench -M $mode: no failed transactions");
		cmp_ok($done // 0, '>', 0, "pgbench -M $mode: transactions processed (" . ($done // 'none') . ')');
	}
}

# Run one library script; it checks every result and prints "<lib>: OK ...
# checked=N". Asserts the exit code and the count of checked results.
sub run_script
{
	my ($label, $argv, $checked, %o) = @_;
	my ($out, $err, $rc) = run_cmd($argv, env => target_env(), timeout => $o{timeout} // 60,
				       cwd => $o{cwd});
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $summary = (grep { /^\Q$label\E: / } split /\n/, $out)[0] // '(no summary line)';
	is($rc, 0, "$label script exits 0") or diag("stdout:\n$out\nstderr:\n$err");
	like($summary, qr/^\Q$label\E: OK .*checked=\Q$checked\E$/, "$label: all $checked results right")
	    or diag($summary);
	note($summary);
}

# The interpreter and the libraries are there (outside any TODO: a missing
# module must not pass for a sluice failure).
{
	my ($out, $err, $rc) = run_cmd([ $PYTHON, '-c',
		'import asyncpg, psycopg; print(asyncpg.__version__, psycopg.__version__)' ], timeout => 30);
	is($rc, 0, "$PYTHON has asyncpg and psycopg 3 (Debian: python3-asyncpg python3-psycopg; make deps)")
	    or diag($err);
	note("asyncpg, psycopg: $out");
}

# ---------------------------------------------------------------------------
# b. asyncpg: default statement cache, conn.prepare(name=...), cache evictions
#    (protocol Close).
{
	my $iter = 200;
	my $checked = $CLIENTS * $iter * 3 + $CLIENTS * 20 * 3 + $CLIENTS * 30;
	local $TODO = $TODO_PREPARED;
	run_script('asyncpg', [ $PYTHON, "$PYDIR/asyncpg_prepared.py", '--clients', $CLIENTS,
				'--iterations', $iter ], $checked);
	is(logged_rows('asyncpg'), $CLIENTS * $iter, "asyncpg: every INSERT ... RETURNING stored once");
}

# ---------------------------------------------------------------------------
# c. psycopg 3, prepare_threshold=0: threads, autocommit and implicit
#    transactions, pipeline mode.
{
	my $iter = 100;
	my $pipelined = grep { $_ % 4 == 0 } 0 .. $CLIENTS - 1;
	my $checked = $CLIENTS * $iter * 4 + $pipelined * 20 * 4;
	local $TODO = $TODO_PREPARED;
	run_script('psycopg', [ $PYTHON, "$PYDIR/psycopg_prepared.py", '--clients', $CLIENTS,
				'--iterations', $iter ], $checked);
	is(logged_rows('psycopg'), $CLIENTS * $iter + $pipelined * 20,
	   "psycopg: every INSERT ... RETURNING stored once");
}

# ---------------------------------------------------------------------------
# d. node-postgres named queries. Installs package-lock.json's pg on first
#    use; without it this fails (the issue requires node-postgres).
{
	my $have = -d "$JSDIR/node_modules/pg";
	if (!$have) {
		my ($out, $err, $rc) = run_cmd([ 'npm', 'ci', '--no-audit', '--no-fund' ], cwd => $JSDIR,
					       timeout => 300);
		$have = $rc == 0 && -d "$JSDIR/node_modules/pg";
		diag("npm ci in $JSDIR failed (rc $rc):\n$out$err") unless $have;
	}
	ok($have, 'node-postgres installed in test/integ/js/node_modules (npm ci from package-lock.json)')
	    or diag('node-postgres is required: run `npm ci` in test/integ/js with access to the npm '
		    . 'registry, then rerun this test');
	if ($have) {
		my ($out, $err, $rc) = run_cmd([ 'node', '-e', 'require("pg"); console.log(process.version)' ],
					       cwd => $JSDIR, timeout => 30);
		$have = is($rc, 0, 'node runs and loads pg') or diag($err);
		note("node $out");
	}
	if ($have) {
		my $iter = 100;
		local $TODO = $TODO_PREPARED;
		run_script('node-postgres', [ 'node', "$JSDIR/named_queries.js", '--clients', $CLIENTS,
					      '--iterations', $iter ], $CLIENTS * $iter * 4, cwd => $JSDIR);
		is(logged_rows('node-postgres'), $CLIENTS * $iter,
		   "node-postgres: every INSERT ... RETURNING stored once");
	}
}

# ---------------------------------------------------------------------------
# e, f. On the wire, over a pool of one server: every client below shares it.
my $sl1 = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw' },
	settings => { pool_mode => 'transaction', default_pool_size => 1, query_wait_timeout => 30 },
);
my %target1 = (%target, host => $sl1->host, port => $sl1->port);

sub connect1
{
	my $c = SluiceTest::Proto->connect(host => $target1{host}, port => $target1{port}, timeout => 15);
	my $r = $c->login(user => $target1{user}, password => $target1{password}, database => $target1{db});
	die 'login failed: ' . error_text($r->{error}) . "\n" unless $r->{ok};
	return $c;
}

sub parse_m    { my ($name, $sql) = @_; msg('P', "$name\0$sql\0" . pack('n', 0)) }
sub close_m    { msg('C', "S$_[0]\0") }
sub sync_m     { msg('S') }
sub describe_m { msg('D', "S$_[0]\0") }

# Bind (text parameters) + Describe portal + Execute + Sync
sub exec_m
{
	my ($stmt, @vals) = @_;
	return msg('B', "\0$stmt\0" . pack('n', 0) . pack('n', scalar @vals)
		   . join('', map { pack('N', length $_) . $_ } @vals) . pack('n', 0))
	    . msg('D', "P\0") . msg('E', "\0" . pack('N', 0)) . sync_m();
}

# One cycle's outcome as a short string: "ERROR <sqlstate>", "[cols] v1 v2",
# or "ok" (no rows, no error).
sub outcome
{
	my ($r) = @_;
	return "lost: $r->{lost}" if $r->{lost};
	return "ERROR $r->{errors}[0]{C}" if @{ $r->{errors} };
	return 'ok' unless @{ $r->{columns} } || @{ $r->{rows} };
	return '[' . join(',', @{ $r->{columns} }) . '] '
	    . join(' ', map { join(',', map { $_ // 'NULL' } @$_) } @{ $r->{rows} });
}

sub cycle
{
	my ($c, @msgs) = @_;
	$c->send(join('', @msgs));
	return outcome($c->read_results(15));
}

# --- e. the same name, different texts, two clients, one server
{
	my ($ca, $cb, $cc) = map { connect1() } 1 .. 3;
	is($ca->query_value('SELECT pg_backend_pid()'), $cb->query_value('SELECT pg_backend_pid()'),
	   'pool of one: both clients are served by the same backend');
	is(cycle($ca, parse_m('s1', 'SELECT $1::int * 2 AS a'), sync_m()), 'ok', 'A: Parse s1 (int * 2)');
	is_todo(cycle($cb, parse_m('s1', q{SELECT 'b:' || $1::text AS b}), sync_m()), 'ok',
	        'B: Parse s1 with a different text on the same server');
	my (@got_a, @got_b);
	for my $i (1 .. 5) {
		push @got_a, cycle($ca, exec_m('s1', $i));
		push @got_b, cycle($cb, exec_m('s1', $i));
	}
	is(join(' | ', @got_a), join(' | ', map { "[a] " . 2 * $_ } 1 .. 5), 'A gets its own s1, interleaved with B');
	is_todo(join(' | ', @got_b), join(' | ', map { "[b] b:$_" } 1 .. 5),
	        'B gets its own s1, interleaved with A');

	# both pipelines queued at once: sluice serializes them on the one server
	$ca->send(join('', map { exec_m('s1', $_) } 6 .. 8));
	$cb->send(join('', map { exec_m('s1', $_) } 6 .. 8));
	@got_a = map { outcome($ca->read_results(15)) } 6 .. 8;
	@got_b = map { outcome($cb->read_results(15)) } 6 .. 8;
	is(join(' | ', @got_a), '[a] 12 | [a] 14 | [a] 16', 'A: three pipelined Bind/Execute of s1, own results');
	is_todo(join(' | ', @got_b), '[b] b:6 | [b] b:7 | [b] b:8',
	        'B: three pipelined Bind/Execute of s1, own results');

	$ca->send(describe_m('s1') . sync_m());
	my $da = $ca->read_results(15);
	$cb->send(describe_m('s1') . sync_m());
	my $db = $cb->read_results(15);
	is(join(',', @{ $da->{columns} }) . ' ' . join('', grep { /[tT]/ } @{ $da->{types} }), 'a tT',
	   "A: Describe s1 describes A's statement");
	is_todo(join(',', @{ $db->{columns} }) . ' ' . join('', grep { /[tT]/ } @{ $db->{types} }), 'b tT',
	        "B: Describe s1 describes B's statement");

	is_todo(cycle($cc, exec_m('s1', 1)), 'ERROR 26000',
	        "C, which never prepared s1, cannot use A's or B's: 26000 as in PostgreSQL");
	is(cycle($ca, exec_m('s1', 21)), '[a] 42', 'A still has its s1 after that');
	$_->terminate for $ca, $cb, $cc;
}

# --- f. Close, re-Parse, duplicate Parse, failed Parse, Parse then ROLLBACK
{
	my ($d, $other) = map { connect1() } 1 .. 2;
	is(cycle($other, parse_m('s2', 'SELECT 100 + $1::int AS o'), sync_m()), 'ok',
	   "another client prepares its own s2");
	is_todo(cycle($d, parse_m('s2', 'SELECT 1 AS v'), sync_m()), 'ok', 'D: Parse s2 (SELECT 1)');
	is_todo(cycle($d, exec_m('s2')), '[v] 1', 'D: s2 gives 1');
	is(cycle($d, parse_m('s2', 'SELECT 9 AS v'), sync_m()), 'ERROR 42P05',
	   'D: Parse s2 again without Close: 42P05 as in PostgreSQL');
	is(cycle($other, exec_m('s2', 5)), '[o] 105', "the other client's s2 is untouched");
	$d->send(close_m('s2') . sync_m());
	my $r = $d->read_results(15);
	is(outcome($r) . ' ' . join('', @{ $r->{types} }), 'ok 3Z', 'D: Close s2: CloseComplete');
	is(cycle($d, exec_m('s2')), 'ERROR 26000', 'D: s2 is gone after Close');
	is_todo(cycle($other, exec_m('s2', 6)), '[o] 106', "the other client's s2 survives D's Close");
	is(cycle($d, parse_m('s2', 'SELECT 2 AS v'), sync_m()), 'ok', 'D: Parse s2 again, new text');
	is(cycle($d, exec_m('s2')), '[v] 2', "D: s2 gives the new text's result");
	is(cycle($d, close_m('s2'), parse_m('s2', 'SELECT 3 AS v'), exec_m('s2')), '[v] 3',
	   'D: Close, Parse and Bind/Execute of s2 in one pipeline: the newest text');
	$d->send(close_m('never_prepared') . sync_m());
	$r = $d->read_results(15);
	is(outcome($r) . ' ' . join('', @{ $r->{types} }), 'ok 3Z',
	   'D: Close of a name never prepared: CloseComplete, no error (as in PostgreSQL)');

	is(cycle($d, parse_m('s3', 'SELEC 3'), sync_m()), 'ERROR 42601', 'D: a Parse with a syntax error fails');
	is(cycle($d, exec_m('s3')), 'ERROR 26000', 'D: the failed s3 does not exist');
	is(cycle($d, parse_m('s3', 'SELECT 3 AS w'), sync_m()), 'ok', 'D: s3 can then be prepared');
	is(cycle($d, exec_m('s3')), '[w] 3', 'D: s3 gives 3');

	is(cycle($d, msg('Q', "BEGIN\0")), 'ok', 'D: BEGIN');
	is(cycle($d, parse_m('s4', 'SELECT 4 AS x'), sync_m()), 'ok', 'D: Parse s4 inside the transaction');
	is(cycle($d, msg('Q', "ROLLBACK\0")), 'ok', 'D: ROLLBACK');
	is(cycle($d, exec_m('s4')), '[x] 4', 'D: s4 survives the ROLLBACK, as in PostgreSQL');
	is_todo(cycle($other, exec_m('s4')), 'ERROR 26000', "the other client does not see D's s4");
	$_->terminate for $d, $other;
}

# --- a Parse that sluice answers itself inside a transaction: the client
#     gets its transaction's status and keeps its server
{
	my ($x, $y) = map { connect1() } 1 .. 2;
	is(cycle($x, parse_m('s5', 'SELECT 5 AS y'), sync_m()), 'ok', 'X: Parse s5 (the server now has it)');
	is(cycle($y, msg('Q', "BEGIN\0")), 'ok', 'Y: BEGIN');
	$y->send(parse_m('s5', 'SELECT 5 AS y') . sync_m());
	my $r = $y->read_results(15);
	is_todo(outcome($r) . ' ' . join('', @{ $r->{types} }) . ' ' . ($r->{status} // '?'), 'ok 1Z T',
	        'Y: Parse of the same name and text inside its transaction: ParseComplete, ReadyForQuery T');
	$x->send(msg('Q', "SELECT 'x served'\0"));
	my ($type) = $x->read_msg(0.3);
	ok(!defined $type && !$x->{eof}, 'X waits: Y still holds the one server inside its transaction');
	is_todo(cycle($y, exec_m('s5')), '[y] 5', 'Y: s5 gives 5 inside the transaction');
	is(cycle($y, msg('Q', "COMMIT\0")), 'ok', 'Y: COMMIT');
	is(outcome($x->read_results(15)), "[?column?] x served", 'X is served once Y commits');
	$_->terminate for $x, $y;
}

# ---------------------------------------------------------------------------
# g. SQL-level PREPARE / EXECUTE is per server connection: documented as
#    unsupported in transaction mode, like PgBouncer.
SKIP: {
	skip 'SQL-level PREPARE/EXECUTE in transaction mode is documented as unsupported', 1;
}

done_testing();
