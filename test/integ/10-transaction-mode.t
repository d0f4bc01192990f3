# Transaction and statement pooling: a server is held only for a
# transaction and shared between clients in between; the extended protocol
# (pipelines, the unnamed statement, Flush, COPY, the function call) works
# over a shared server; startup parameters and SETs follow their client;
# server_reset_query_always drops session state after each transaction;
# statement mode refuses transaction blocks; [users] pool_mode; a client
# that leaves mid-transaction or mid-query leaves nothing behind; a server
# that dies mid-query costs a transaction-mode client one error, a
# session-mode client its connection.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(wait_for run_c_test);
use SluiceTest::Proto qw(msg error_text);

# SET work_mem below is session state in transaction pooling: the default
# transaction_session_state (warn) says so once per client (61-session-state.t)
SluiceTest::expect_log(qr/session state in transaction pooling \(application_name "[^"]*"\): set: .*\("SET work_mem \.\.\."\)/);

my $pg = SluiceTest::Pg->new;
my %pw = (app => 'app_pw', load => 'load_pw', alice => 'alice_pw', bob => 'bob_pw');
$pg->create_role($_, $pw{$_}) for sort keys %pw;
$pg->create_db('app', 'app');
$pg->safe_psql('app', join(';',
	'CREATE TABLE t (v int)', 'CREATE TABLE t2 (v int)', 'CREATE TABLE t20 (who int, round int)',
	'CREATE TABLE pipe_t (v int)', 'CREATE TABLE copytest (id int, payload text)',
	'GRANT ALL ON t, t2, t20, pipe_t, copytest TO app, load, alice, bob'));
my $watch = $pg->proto(db => 'app');   # direct superuser connection for looking

sub sql_ok
{
	my ($c, $sql, $name) = @_;
	my $r = $c->query($sql, timeout => 15);
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	ok(!$r->{lost} && !@{ $r->{errors} }, $name // $sql)
	    or diag($r->{lost} // error_text($r->{errors}[0]));
	return $r;
}

sub backends_of
{
	my ($user) = @_;
	return $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE usename = '$user'");
}

sub backend_exists
{
	my ($pid) = @_;
	return $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '1';
}

sub split_messages
{
	my ($data) = @_;
	my @m;
	while (length $data >= 5) {
		my ($type, $len) = unpack('aN', $data);
		last if $len < 4 || length($data) < 1 + $len;
		push @m, [ $type, substr($data, 5, $len - 4) ];
		substr($data, 0, 1 + $len, '');
	}
	return @m;
}

my $db = { app => $pg->connstr('app') };

# ---------------------------------------------------------------------------
# 20 clients, pool size 2: PostgreSQL never sees more than 2 backends.
{
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => $db, users => { load => $pw{load} },
		settings => { pool_mode => 'transaction', default_pool_size => 2, query_wait_timeout => 60 },
	);
	my @c = map { $sl->proto } 1 .. 20;
	my $w = $pg->watch_max(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'load'});
	wait_for(sub { ($w->peek)[1] > 0 }, timeout => 10);
	my ($bad, $served) = (0, 0);
	for my $round (1 .. 4) {
		for my $i (0 .. $#c) {
			$c[$i]->send(join('', map { msg('Q', "$_\0") } 'BEGIN',
				"INSERT INTO t20 VALUES ($i, $round)", 'SELECT pg_sleep(0.01)', 'COMMIT'));
		}
		for my $i (0 .. $#c) {
			for my $step (1 .. 4) {
				my $r = $c[$i]->read_results(30);
				my $want = $step == 4 ? 'I' : 'T';
				if ($r->{lost} || @{ $r->{errors} } || ($r->{status} // '') ne $want) {
					$bad++;
					diag("client $i round $round step $step: "
					     . ($r->{lost} // error_text($r->{errors}[0]) . " status " . ($r->{status} // '?')))
					    if $bad < 5;
				} else {
					$served++;
				}
			}
		}
	}
	my ($max, $samples) = $w->stop;
	is($bad, 0, '20 clients x 4 explicit transactions over a pool of 2: no errors');
	is($served, 20 * 4 * 4, 'every statement answered with the right transaction status');
	cmp_ok($samples, '>', 5, "pg_stat_activity was sampled during the run ($samples samples)");
	cmp_ok($max // 99, '<=', 2, 'PostgreSQL never showed more than 2 backends for the user (max '
	       . ($max // 'none') . ')');
	is($watch->query_value('SELECT count(*) FROM t20'), 80, 'all 80 transactions committed');
	$_->terminate for @c;
}

# ---------------------------------------------------------------------------
# Main transaction-mode instance: pool size 1.
my $tx = SluiceTest::Sluice->new(
	pg => $pg, databases => $db, users => { app => $pw{app} },
	settings => { pool_mode => 'transaction', default_pool_size => 1, query_wait_timeout => 30 },
);

# --- the server is held for a transaction only, and shared in between
{
	my $a = $tx->proto;
	my $b = $tx->proto;
	sql_ok($a, 'BEGIN', 'A: BEGIN');
	my $apid = $a->query_value('SELECT pg_backend_pid()');
	like($apid, qr/^\d+$/, 'A holds a backend inside its transaction');
	$b->send(msg('Q', "SELECT pg_backend_pid()\0"));
	my ($type) = $b->read_msg(0.3);
	ok(!defined $type && !$b->{eof}, 'B waits while A is inside a transaction');
	sql_ok($a, 'COMMIT', 'A: COMMIT');
	my $r = $b->read_results(10);
	is($r->{rows}[0][0], $apid, 'B is served by the same backend as soon as A commits');
	is($a->query_value('SELECT pg_backend_pid()'), $apid, 'A, still connected, gets it back for its next transaction');
	is($b->query_value('SELECT pg_backend_pid()'), $apid, 'and B again: the two interleave on one backend');
	is(backends_of('app'), 1, 'one backend in PostgreSQL for both clients');
	$a->terminate;
	$b->terminate;
}

# --- a failed transaction still holds the server until it is rolled back
{
	my $a = $tx->proto;
	my $b = $tx->proto;
	sql_ok($a, 'BEGIN', 'A: BEGIN');
	my $apid = $a->query_value('SELECT pg_backend_pid()');
	my $r = $a->query('SELECT 1/0');
	is($r->{errors}[0]{C}, '22012', 'A: an error inside the transaction');
	is($r->{status}, 'E', 'A: the transaction is failed (ReadyForQuery E)');
	$b->send(msg('Q', "SELECT pg_backend_pid()\0"));
	my ($type) = $b->read_msg(0.3);
	ok(!defined $type && !$b->{eof}, 'B waits: a failed transaction still holds the server');
	$r = $a->query('SELECT 1');
	is($r->{errors}[0]{C}, '25P02', 'A: still inside its failed transaction (25P02)');
	is($a->query('ROLLBACK')->{status}, 'I', 'A: ROLLBACK');
	$r = $b->read_results(10);
	is($r->{rows}[0][0], $apid, 'B is served once A rolled back');
	is($r->{status}, 'I', 'and B is not inside A\'s transaction');
	$a->terminate;
	$b->terminate;
}

# --- startup parameters and SETs follow the client
{
	my %want = (alpha => 'America/New_York', beta => 'Europe/Berlin');
	my %c;
	for my $app (sort keys %want) {
		my $c = SluiceTest::Proto->connect(port => $tx->port);
		my $r = $c->login(user => 'app', password => $pw{app}, database => 'app',
				  params => { application_name => $app, TimeZone => $want{$app} });
		ok($r->{ok}, "client $app logs in with its own application_name and TimeZone")
		    or diag(error_text($r->{error}));
		is($r->{params}{TimeZone}, $want{$app}, "$app: ParameterStatus TimeZone at login is its own");
		is($r->{params}{application_name}, $app, "$app: ParameterStatus application_name at login is its own");
		$c{$app} = $c;
	}
	my $q = q{SELECT current_setting('application_name') || ' ' || current_setting('TimeZone') || ' ' || pg_backend_pid()};
	my ($wrong, %pids) = (0);
	for my $round (1 .. 3) {
		for my $app (qw(alpha beta)) {
			my ($name, $tz, $pid) = map { $_ // '' } split ' ', $c{$app}->query_value($q) // '';
			$pids{$pid // ''}++;
			$wrong++, diag("$app round $round saw $name $tz")
			    if ($name // '') ne $app || ($tz // '') ne $want{$app};
		}
	}
	is($wrong, 0, 'interleaved on one backend, each client always sees its own application_name and TimeZone');
	is(scalar(keys %pids), 1, 'both clients really shared one backend');

	sql_ok($c{alpha}, q{SET TimeZone = 'Asia/Tokyo'}, 'alpha: SET TimeZone outside a transaction');
	is($c{beta}->query_value(q{SELECT current_setting('TimeZone')}), 'Europe/Berlin', "alpha's SET does not leak to beta");
	is($c{alpha}->query_value(q{SELECT current_setting('TimeZone')}), 'Asia/Tokyo', "alpha's SET persists for alpha");
	sql_ok($c{beta}, 'BEGIN');
	is($c{beta}->query_value(q{SELECT current_setting('TimeZone')}), 'Europe/Berlin', 'beta, in a transaction: its own TimeZone');
	sql_ok($c{beta}, 'COMMIT');
	sql_ok($c{alpha}, 'BEGIN');
	is($c{alpha}->query_value(q{SELECT current_setting('TimeZone') || ' ' || current_setting('application_name')}),
	   'Asia/Tokyo alpha', 'alpha, next transaction: still Asia/Tokyo and alpha');
	sql_ok($c{alpha}, 'COMMIT');
	is($c{beta}->query_value(q{SELECT current_setting('TimeZone') || ' ' || current_setting('application_name')}),
	   'Europe/Berlin beta', 'beta afterwards: still Europe/Berlin and beta');

	# a SET undone by ROLLBACK, and a SET LOCAL, do not stick to the client
	sql_ok($c{beta}, 'BEGIN');
	sql_ok($c{beta}, q{SET TimeZone = 'Pacific/Auckland'}, 'beta: SET TimeZone inside a transaction');
	sql_ok($c{beta}, q{SET LOCAL application_name = 'beta-local'}, 'beta: SET LOCAL application_name');
	sql_ok($c{beta}, 'ROLLBACK', 'beta: ROLLBACK');
	is($c{alpha}->query_value(q{SELECT current_setting('TimeZone')}), 'Asia/Tokyo', 'alpha in between: its own TimeZone');
	is($c{beta}->query_value(q{SELECT current_setting('TimeZone') || ' ' || current_setting('application_name')}),
	   'Europe/Berlin beta', 'beta after ROLLBACK: its TimeZone and application_name from before');
	sql_ok($c{alpha}, 'BEGIN');
	sql_ok($c{alpha}, q{SET LOCAL TimeZone = 'Pacific/Auckland'}, 'alpha: SET LOCAL TimeZone');
	sql_ok($c{alpha}, 'COMMIT', 'alpha: COMMIT');
	is($c{beta}->query_value(q{SELECT current_setting('TimeZone')}), 'Europe/Berlin', 'beta in between: its own TimeZone');
	is($c{alpha}->query_value(q{SELECT current_setting('TimeZone')}), 'Asia/Tokyo',
	   'alpha after COMMIT: SET LOCAL is gone, its session SET is back');
	$_->terminate for values %c;
}

# --- the extended protocol over a shared server (libpq, with a busy neighbour)
run_c_test('pipeline', $tx->connstr, { label => 'pipeline' });
is($watch->query_value('SELECT count(*) FROM copytest'), 8000, 'the COPY rows are in the table');

# --- a client that disconnects mid-transaction leaves nothing behind
{
	my $c1 = $tx->proto;
	sql_ok($c1, 'BEGIN', 'client 1: BEGIN');
	sql_ok($c1, 'INSERT INTO t VALUES (1)', 'client 1: INSERT');
	sql_ok($c1, 'LOCK TABLE t2 IN ACCESS EXCLUSIVE MODE', 'client 1: LOCK TABLE t2');
	my $pid1 = $c1->query_value('SELECT pg_backend_pid()');
	is($watch->query_value(q{SELECT count(*) FROM pg_locks WHERE relation = 't2'::regclass AND granted}), 1,
	   'PostgreSQL shows the lock on t2');
	$c1->close;   # no Terminate, no COMMIT: the socket just goes

	my $c2 = $tx->proto;
	my $t0 = time();
	my $r = $c2->query('SELECT count(*) FROM t2', timeout => 5);
	ok(!$r->{lost} && !@{ $r->{errors} }, 'the next client reads t2 (no lock left behind)')
	    or diag($r->{lost} // error_text($r->{errors}[0]));
	cmp_ok(time() - $t0, '<', 5, 'within 5 s');
	is($c2->query_value('SELECT count(*) FROM t WHERE v = 1'), 0, "the next client does not see client 1's row");
	is($r->{status}, 'I', 'and it is not inside anyone else\'s transaction');
	ok(wait_for(sub { !backend_exists($pid1) }, timeout => 10), "client 1's backend was closed");
	is($watch->query_value(q{SELECT count(*) FROM pg_locks WHERE relation IN ('t'::regclass, 't2'::regclass)}), 0,
	   'pg_locks: no lock from the dead transaction');
	is($watch->query_value('SELECT count(*) FROM t'), 0, 'the row was never committed');
	$c2->terminate;
}

# --- a client that disconnects while its query runs
{
	my $c3 = $tx->proto;
	sql_ok($c3, 'BEGIN', 'client 3: BEGIN');
	sql_ok($c3, 'INSERT INTO t VALUES (2)', 'client 3: INSERT');
	my $pid3 = $c3->query_value('SELECT pg_backend_pid()');
	$c3->send(msg('Q', "SELECT pg_sleep(6) /* c3 */\0"));
	ok(wait_for(sub { $watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE state = 'active' }
					      . q{AND query LIKE 'SELECT pg_sleep(6) /* c3 */%'}) == 1 }, timeout => 10),
	   'client 3: pg_sleep(6) runs');
	$c3->close;

	my $c4 = $tx->proto;
	my $t0 = time();
	my $r = $c4->query('SELECT count(*) FROM t WHERE v = 2', timeout => 5);
	my $took = time() - $t0;
	ok(!$r->{lost} && !@{ $r->{errors} }, 'the next client is served while the abandoned query still runs')
	    or diag($r->{lost} // error_text($r->{errors}[0]));
	cmp_ok($took, '<', 5, sprintf('within 5 s (%.2f s)', $took));
	is($r->{rows}[0][0], 0, "it does not see client 3's row");
	is($r->{status}, 'I', 'and is not inside client 3\'s transaction');
	isnt($c4->query_value('SELECT pg_backend_pid()'), $pid3, 'it got another backend than the abandoned one');
	ok(wait_for(sub { !backend_exists($pid3) }, timeout => 15), "client 3's backend ends");
	is($watch->query_value('SELECT count(*) FROM t'), 0, "client 3's row was never committed");
	$c4->terminate;
}

# --- the server dies under a transaction-mode client
{
	my $a = $tx->proto;
	my $b = $tx->proto;
	is($b->query_value('SELECT 1'), 1, 'B: a query, then B sits idle without a server');
	my $apid = $a->query_value('SELECT pg_backend_pid()');
	$a->send(msg('Q', "SELECT pg_sleep(5) /* victim */\0"));
	ok(wait_for(sub { $watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE state = 'active' }
					      . q{AND query LIKE 'SELECT pg_sleep(5) /* victim */%'}) == 1 }, timeout => 10),
	   'A: pg_sleep(5) runs');
	$tx->expect_log(qr/pooler error: server closed the connection unexpectedly \(sqlstate=08006\)/);
	is($watch->query_value("SELECT pg_terminate_backend($apid)"), 't', "terminated A's backend");
	my $r = $a->read_results(10);
	ok(!$r->{lost}, 'A gets an answer, not a closed connection') or diag($r->{lost});
	my @codes = map { $_->{C} // '' } @{ $r->{errors} };
	ok((grep { /^08/ || $_ eq '57P01' } @codes), "A gets an error of class 08 or 57P01 (@codes)");
	is(scalar @codes, 1, 'A gets one error for its one query, as from PostgreSQL (not the server\'s and then sluice\'s)');
	is($r->{status}, 'I', 'then ReadyForQuery, idle');
	note('A saw: ' . join(' | ', map { error_text($_) } @{ $r->{errors} }));
	is(join(',', grep { $_ ne 'ERROR' } map { $_->{S} // '' } @{ $r->{errors} }), '',
	   'A sees severity ERROR only (a FATAL tells drivers the connection is over)');
	is($a->query_value('SELECT 1'), 1, 'A: the same connection works for the next query');
	ok(!$a->{eof}, 'A was never disconnected');
	my ($type) = $b->read_msg(0.2);
	ok(!defined $type && !$b->{eof}, 'B, idle, was told nothing');
	is($b->query_value('SELECT 2'), 2, 'B keeps working');
	$a->terminate;
	$b->terminate;
}

# ---------------------------------------------------------------------------
# server_reset_query_always: session state is dropped after every
# transaction, while the tracked parameters still follow the client.
{
	my $ra = SluiceTest::Sluice->new(
		pg => $pg, databases => $db, users => { app => $pw{app} },
		settings => { pool_mode => 'transaction', default_pool_size => 1, server_reset_query_always => 1 },
	);
	my $default_wm = $watch->query_value('SHOW work_mem');
	my $c = SluiceTest::Proto->connect(port => $ra->port);
	ok($c->login(user => 'app', password => $pw{app}, database => 'app',
		     params => { application_name => 'gamma', TimeZone => 'Asia/Kolkata' })->{ok},
	   'reset_always: a client with its own application_name and TimeZone');
	sql_ok($c, q{SET work_mem = '7MB'}, 'reset_always: SET work_mem');
	is($c->query_value('SHOW work_mem'), $default_wm, 'reset_always: the next transaction has the default work_mem again');
	is($c->query_value(q{SELECT current_setting('TimeZone') || ' ' || current_setting('application_name')}),
	   'Asia/Kolkata gamma', 'reset_always: its TimeZone and application_name are still its own');
	$c->terminate;
	$ra->stop;
}

# ---------------------------------------------------------------------------
# Session mode: the server's death ends the client's session.
{
	my $sess = SluiceTest::Sluice->new(
		pg => $pg, databases => $db, users => { app => $pw{app} },
		settings => { pool_mode => 'session', default_pool_size => 1 },
	);
	my $a = $sess->proto;
	my $apid = $a->query_value('SELECT pg_backend_pid()');
	$a->send(msg('Q', "SELECT pg_sleep(5) /* session victim */\0"));
	ok(wait_for(sub { $watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE state = 'active' }
					      . q{AND query LIKE 'SELECT pg_sleep(5) /* session victim */%'}) == 1 },
		    timeout => 10), 'session mode: pg_sleep(5) runs');
	$sess->expect_log(qr/pooler error: server closed the connection unexpectedly \(sqlstate=08006\)/);
	is($watch->query_value("SELECT pg_terminate_backend($apid)"), 't', "session mode: terminated the client's backend");
	my ($eof, $data) = $a->wait_eof(10);
	ok($eof, 'session mode: the client is disconnected');
	my @err = map { SluiceTest::Proto::parse_error($_->[1]) } grep { $_->[0] eq 'E' } split_messages($data);
	ok((grep { ($_->{S} // '') eq 'FATAL' } @err), 'session mode: with a FATAL error first ('
	   . join(' | ', map { error_text($_) } @err) . ')');
	$a->close;
	is($sess->safe_psql('SELECT 3', user => 'app'), 3, 'session mode: a new client is served');
}

# ---------------------------------------------------------------------------
# Statement mode
{
	my $st = SluiceTest::Sluice->new(
		pg => $pg, databases => $db, users => { app => $pw{app} },
		settings => { pool_mode => 'statement', default_pool_size => 1, query_wait_timeout => 30 },
	);
	$st->expect_log(qr/pooler error: transaction blocks not allowed in statement pooling mode \(sqlstate=0A000\)/);
	my $a = $st->proto;
	my $b = $st->proto;
	my $pa = $a->query_value('SELECT pg_backend_pid()');
	my $pb = $b->query_value('SELECT pg_backend_pid()');
	like($pa, qr/^\d+$/, 'statement mode: A is served');
	is($pb, $pa, 'statement mode: B, connected at the same time, is served by the same backend');
	is($a->query_value(q{SELECT 'again'}), 'again', 'statement mode: A again');
	my $r = sql_ok($b, 'SELECT 1; SELECT 2', 'statement mode: a multi-statement query (implicit transaction)');
	is_deeply($r->{rows}, [ [1], [2] ], 'statement mode: both results');

	$a->send(msg('Q', "BEGIN\0"));
	my ($eof, $data) = $a->wait_eof(10);
	ok($eof, 'statement mode: BEGIN ends the connection');
	my ($e) = map { SluiceTest::Proto::parse_error($_->[1]) } grep { $_->[0] eq 'E' } split_messages($data);
	is($e && $e->{S}, 'FATAL', 'statement mode: BEGIN gets a FATAL error');
	is($e && $e->{C}, '0A000', 'statement mode: SQLSTATE 0A000');
	is($e && $e->{M}, 'transaction blocks not allowed in statement pooling mode', 'statement mode: the message');
	$a->close;
	$r = $b->query('SELECT 4', timeout => 10);
	ok(!$r->{lost} && !@{ $r->{errors} }, 'statement mode: B is served afterwards')
	    or diag($r->{lost} // error_text($r->{errors}[0]));
	is($r->{status}, 'I', 'statement mode: B is not inside the transaction A opened');
	is($watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' }
			       . q{AND state LIKE 'idle in transaction%'}), 0, 'statement mode: no backend left in a transaction');
	$b->terminate;
}

# ---------------------------------------------------------------------------
# [users] pool_mode: alice is in session mode, bob (global) in transaction mode.
{
	my $pu = SluiceTest::Sluice->new(
		pg => $pg, databases => $db, users => { alice => $pw{alice}, bob => $pw{bob} },
		settings => { pool_mode => 'transaction', default_pool_size => 1, query_wait_timeout => 30 },
		extra_config => "\n[users]\nalice = pool_mode=session\n",
	);
	my $default_wm = $watch->query_value('SHOW work_mem');
	my $a1 = $pu->proto(user => 'alice');
	sql_ok($a1, q{SET work_mem = '7MB'}, 'alice: SET work_mem');
	my $apid = $a1->query_value('SELECT pg_backend_pid()');
	sql_ok($a1, 'BEGIN');
	sql_ok($a1, 'SELECT 1');
	sql_ok($a1, 'COMMIT');
	is($a1->query_value('SHOW work_mem'), '7MB', 'alice: her SET persists across her transactions');
	is($a1->query_value('SELECT pg_backend_pid()'), $apid, 'alice: same backend throughout');
	my $a2 = $pu->proto(user => 'alice');
	$a2->send(msg('Q', "SELECT pg_backend_pid()\0"));
	my ($type) = $a2->read_msg(0.3);
	ok(!defined $type && !$a2->{eof}, 'a second alice client waits: session mode keeps the server');

	my $b1 = $pu->proto(user => 'bob');
	my $b2 = $pu->proto(user => 'bob');
	sql_ok($b1, 'BEGIN');
	my $bpid = $b1->query_value('SELECT pg_backend_pid()');
	sql_ok($b1, 'COMMIT');
	is($b2->query_value('SELECT pg_backend_pid()'), $bpid, 'bob: a second client shares the backend (transaction mode)');
	is($b1->query_value('SELECT pg_backend_pid()'), $bpid, 'bob: and the first gets it back');

	$a1->terminate;
	my $r = $a2->read_results(10);
	is($r->{rows}[0][0], $apid, 'the second alice client gets the backend once the first leaves');
	is($a2->query_value('SHOW work_mem'), $default_wm, "and none of the first's session state");
	$_->terminate for $a2, $b1, $b2;
}

$watch->terminate;

done_testing();
