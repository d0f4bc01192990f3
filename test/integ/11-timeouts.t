# Every timeout and pool-sizing key, each set small, shown to act, and what
# the client sees checked (SQLSTATE and message): query_timeout,
# idle_transaction_timeout, client_idle_timeout, query_wait_timeout,
# server_lifetime, server_idle_timeout, min_pool_size, reserve_pool_size,
# max_user_connections, server_check_query/server_check_delay,
# server_connect_timeout, server_login_retry.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);
use SluiceTest qw(wait_for free_port slurp);
use SluiceTest::Proto qw(msg error_text parse_error);

my $pg = SluiceTest::Pg->new(conf => [ q{log_statement = 'all'} ]);
$pg->create_role('app', 'app_pw');
$pg->create_role('qt', 'qt_pw');      # query_timeout's own user: its backend outlives the section
$pg->create_db('app', 'app');
$pg->create_db('app2', 'app');
my $watch = $pg->proto(db => 'app');
my %dbs = (app => $pg->connstr('app'), app2 => $pg->connstr('app2'));

sub backends
{
	return $watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'});
}

sub backend_exists
{
	my ($pid) = @_;
	return $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '1';
}

# A sluice for one section: the previous section's servers are gone first,
# so counting app's backends counts this instance's.
sub fresh
{
	my (%o) = @_;
	ok(wait_for(sub { backends() == 0 }, timeout => 15), 'no backends left from before') or diag(backends());
	return SluiceTest::Sluice->new(
		pg => $pg, databases => $o{databases} // \%dbs, users => $o{users} // { app => 'app_pw' },
		wait_login => 0,
		settings => { pool_mode => 'transaction', default_pool_size => 1, query_wait_timeout => 30,
			      %{ $o{settings} } },
	);
}

# Everything the peer sends until it closes: (eof, [errors]).
sub errors_until_eof
{
	my ($c, $timeout) = @_;
	my ($eof, $data) = $c->wait_eof($timeout);
	my @e;
	while (length $data >= 5) {
		my ($type, $len) = unpack('aN', $data);
		last if $len < 4 || length($data) < 1 + $len;
		push @e, parse_error(substr($data, 5, $len - 4)) if $type eq 'E';
		substr($data, 0, 1 + $len, '');
	}
	return ($eof, \@e);
}

# ---------------------------------------------------------------------------
note('query_timeout');
my $qt_pid;   # the timed-out query's backend: checked at the end, it runs on a while
{
	my $sl = fresh(users => { qt => 'qt_pw' }, settings => { query_timeout => 1 });
	$sl->expect_log(qr/ app\/qt\S+ pooler error: query_timeout: query ran longer than 1 s \(sqlstate=57014\)/);
	my $c = $sl->proto;
	$qt_pid = $c->query_value('SELECT pg_backend_pid()');
	# the limit is per query: three 0.4 s queries in one transaction, and
	# sitting idle inside it for longer than the limit, are fine
	is($c->query('BEGIN')->{status}, 'T', 'query_timeout: BEGIN');
	my $bad = 0;
	for (1 .. 3) {
		my $r = $c->query('SELECT pg_sleep(0.4)', timeout => 10);
		$bad++ if $r->{lost} || @{ $r->{errors} };
	}
	is($bad, 0, 'query_timeout: three 0.4 s queries in a row are not timed out together');
	my ($type) = $c->read_msg(1.2);
	ok(!defined $type && !$c->{eof}, 'query_timeout: idle in a transaction for 1.2 s is not a query running');
	is($c->query('COMMIT')->{status}, 'I', 'query_timeout: COMMIT');
	my $t0 = time();
	my $r = $c->query('SELECT pg_sleep(5)', timeout => 10);
	my $took = time() - $t0;
	my $e = $r->{errors}[0];
	is($e && $e->{C}, '57014', 'query_timeout: the query fails with 57014')
	    or diag($r->{lost} // error_text($e));
	like($e && $e->{M}, qr/^query_timeout/, 'query_timeout: message starts with "query_timeout"');
	is($e && $e->{S}, 'ERROR', 'query_timeout: severity ERROR (transaction mode keeps the client)');
	cmp_ok($took, '<', 4, sprintf('query_timeout: answered within 4 s (%.2f s)', $took));
	is($r->{status}, 'I', 'query_timeout: then ReadyForQuery');
	my $next = $c->query_value('SELECT pg_backend_pid()');
	like($next, qr/^\d+$/, "query_timeout: the client's next query works");
	isnt($next, $qt_pid, 'query_timeout: on another backend');
	# sluice cancels the query before closing its server, so PostgreSQL
	# stops the pg_sleep(5) instead of running it to the end
	ok(wait_for(sub { !backend_exists($qt_pid) }, timeout => 2),
	   'query_timeout: the query was cancelled: its backend is gone within 2 s');
	$c->terminate;
	$sl->stop;
}

# ---------------------------------------------------------------------------
for my $mode (qw(transaction session)) {
	note("idle_transaction_timeout, $mode mode");
	my $sl = fresh(settings => { pool_mode => $mode, default_pool_size => 2, idle_transaction_timeout => 1 });
	$sl->expect_log(qr/pooler error: terminating connection due to idle-in-transaction timeout \(sqlstate=25P03\)/);
	my $idle = $sl->proto;
	is($idle->query_value('SELECT 1'), 1, "$mode: a client idle outside a transaction");
	my $c = $sl->proto;
	my $r = $c->query('BEGIN');
	is($r->{status}, 'T', "$mode: another client opens a transaction and sits idle");
	my $t0 = time();
	my ($eof, $errs) = errors_until_eof($c, 10);
	my $took = time() - $t0;
	ok($eof, sprintf("$mode: the idle-in-transaction client is disconnected (after %.2f s)", $took));
	my $e = $errs->[0];
	is($e && $e->{S}, 'FATAL', "$mode: with a FATAL error");
	is($e && $e->{C}, '25P03', "$mode: SQLSTATE 25P03");
	is($e && $e->{M}, 'terminating connection due to idle-in-transaction timeout', "$mode: the message");
	cmp_ok($took, '<', 5, "$mode: within 5 s");
	my ($type) = $idle->read_msg(0.5);
	ok(!defined $type && !$idle->{eof}, "$mode: the client idle outside a transaction is untouched");
	is($idle->query_value('SELECT 2'), 2, "$mode: and still works");
	is($watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' }
			       . q{AND state LIKE 'idle in transaction%'}), 0,
	   "$mode: no backend stays idle in transaction");
	$idle->terminate;
	$sl->stop;
}

# ---------------------------------------------------------------------------
for my $mode (qw(transaction session)) {
	note("client_idle_timeout, $mode mode");
	my $sl = fresh(settings => { pool_mode => $mode, default_pool_size => 2, client_idle_timeout => 1 });
	$sl->expect_log(qr/pooler error: terminating connection due to idle-session timeout \(client_idle_timeout\) \(sqlstate=57P05\)/);
	my $idle = $sl->proto;
	my $busy = $sl->proto;
	is($idle->query_value('SELECT 1'), 1, "$mode: the idle client ran one query");
	my ($bad, $n) = (0, 0);
	my $t0 = time();
	while (time() - $t0 < 1.6) {
		$n++;
		$bad++ unless ($busy->query_value("SELECT $n") // '') eq $n;
		select(undef, undef, undef, 0.2);   # deliberate: a query every 0.2 s
	}
	is($bad, 0, "$mode: the client querying every 0.2 s for 1.6 s is never cut off ($n queries)");
	my ($eof, $errs) = errors_until_eof($idle, 5);
	ok($eof, "$mode: the idle client was disconnected");
	my $e = $errs->[0];
	is($e && $e->{S}, 'FATAL', "$mode: with a FATAL error");
	is($e && $e->{C}, '57P05', "$mode: SQLSTATE 57P05");
	like($e && $e->{M}, qr/idle/, "$mode: a message about idleness") or diag(error_text($e));
	is($busy->query_value('SELECT 7'), 7, "$mode: the active client still works");
	$busy->terminate;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('query_wait_timeout');
{
	my $sl = fresh(settings => { query_wait_timeout => 1 });
	$sl->expect_log(qr/pooler error: query_wait_timeout: no server connection became free within 1 s \(sqlstate=08P01\)/);
	my $holder = $sl->proto;
	is($holder->query('BEGIN')->{status}, 'T', 'query_wait_timeout: a long transaction holds the only server');
	my $w = $sl->proto;
	my $t0 = time();
	$w->send(msg('Q', "SELECT 1\0"));
	my ($eof, $errs) = errors_until_eof($w, 10);
	my $took = time() - $t0;
	my $e = $errs->[0];
	is($e && $e->{S}, 'FATAL', 'query_wait_timeout: the waiting client gets FATAL');
	is($e && $e->{C}, '08P01', 'query_wait_timeout: SQLSTATE 08P01');
	like($e && $e->{M}, qr/^query_wait_timeout/, 'query_wait_timeout: message starts with "query_wait_timeout"')
	    or diag(error_text($e));
	ok($eof, 'query_wait_timeout: and is disconnected');
	cmp_ok($took, '<', 4, sprintf('query_wait_timeout: within 4 s (%.2f s)', $took));
	is($holder->query('COMMIT')->{status}, 'I', 'query_wait_timeout: the holder is unaffected');
	$holder->terminate;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('server_lifetime');
{
	my $sl = fresh(settings => { server_lifetime => 1 });
	my $c = $sl->proto;
	my $p = $c->query_value('SELECT pg_backend_pid()');
	like($p, qr/^\d+$/, "server_lifetime: the client's transaction ran on backend $p");
	ok(wait_for(sub { !backend_exists($p) }, timeout => 10), 'server_lifetime: the idle backend is closed after its lifetime');
	my $q = $c->query_value('SELECT pg_backend_pid()');
	isnt($q, $p, 'server_lifetime: the next transaction gets another backend');

	# a server in use is not closed under its client
	is($c->query('BEGIN')->{status}, 'T', 'server_lifetime: BEGIN');
	my $in = $c->query_value('SELECT pg_backend_pid()');
	ok(wait_for(sub { $watch->query_value("SELECT now() - backend_start > interval '1.5 s' "
					      . "FROM pg_stat_activity WHERE pid = $in") eq 't' }, timeout => 10),
	   'server_lifetime: the transaction outlives the lifetime');
	is($c->query_value('SELECT pg_backend_pid()'), $in, 'server_lifetime: still the same backend inside the transaction');
	is($c->query('COMMIT')->{status}, 'I', 'server_lifetime: COMMIT works');
	ok(wait_for(sub { !backend_exists($in) }, timeout => 10), 'server_lifetime: closed once released');
	$c->terminate;
	$sl->stop;
}

{
	# 0: every server is used for one transaction, then closed
	my $sl = fresh(settings => { server_lifetime => 0 });
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $l = $c->login(user => 'app', password => 'app_pw', database => 'app', timeout => 5);
	ok($l->{ok}, 'server_lifetime=0: a client logs in') or diag(error_text($l->{error}));
	my %pids;
	for (1 .. ($l->{ok} ? 3 : 0)) {
		my $r = $c->query('SELECT pg_backend_pid()', timeout => 10);
		$pids{ $r->{rows}[0][0] // 'none' }++;
	}
	is(scalar(grep { $_ ne 'none' } keys %pids), 3, 'server_lifetime=0: three transactions, three backends');
	$c->close;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('server_idle_timeout');
{
	my $sl = fresh(settings => { default_pool_size => 5, server_idle_timeout => 1, min_pool_size => 1 });
	my @c = map { $sl->proto } 1 .. 3;
	is($_->query('BEGIN')->{status}, 'T', 'server_idle_timeout: a client opens a transaction') for @c;
	is(backends(), 3, 'server_idle_timeout: the burst made 3 backends');
	is($_->query('COMMIT')->{status}, 'I', 'server_idle_timeout: commit') for @c;
	ok(wait_for(sub { backends() == 1 }, timeout => 10), 'server_idle_timeout: idle backends are closed down to min_pool_size (1)')
	    or diag(backends());
	my $w = $pg->watch_max(q{SELECT -count(*) FROM pg_stat_activity WHERE usename = 'app'});
	wait_for(sub { ($w->peek)[1] >= 1 }, timeout => 5);
	$c[0]->read_msg(1.5);   # watch the pool for 1.5 s
	my ($negmin, $samples) = $w->stop;
	is(-($negmin // 0), 1, "server_idle_timeout: and not below it ($samples samples over 1.5 s)");
	is($c[1]->query_value('SELECT 5'), 5, 'server_idle_timeout: clients are still served');
	$_->terminate for @c;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('min_pool_size');
{
	my $sl = fresh(settings => { default_pool_size => 5, min_pool_size => 3, server_idle_timeout => 1 });
	is(backends(), 0, 'min_pool_size: no backends before the first login');
	my $c = $sl->proto;
	ok(wait_for(sub { backends() == 3 }, timeout => 10), 'min_pool_size: 3 backends open after the first login')
	    or diag(backends());
	my $w = $pg->watch_max(q{SELECT -count(*) FROM pg_stat_activity WHERE usename = 'app'});
	wait_for(sub { ($w->peek)[1] >= 1 }, timeout => 5);
	$c->read_msg(2.1);   # server_idle_timeout (1 s) passes twice
	my ($negmin, $samples) = $w->stop;
	is(-($negmin // 0), 3, "min_pool_size: they stay, despite server_idle_timeout ($samples samples over 2.1 s)");
	is($c->query_value('SELECT 1'), 1, 'min_pool_size: the client is served');
	$c->terminate;
	$sl->stop;
}
{
	# servers closed at the end of their lifetime are replaced, with no
	# client asking for one
	my $sl = fresh(settings => { default_pool_size => 5, min_pool_size => 2, server_lifetime => 1 });
	my $c = $sl->proto;
	ok(wait_for(sub { backends() == 2 }, timeout => 10), 'min_pool_size: 2 backends after the first login');
	my $first = $watch->query_value(q{SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = 'app'});
	ok(wait_for(sub { $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE pid IN ($first)") == 0 },
		    timeout => 10), 'min_pool_size: they are closed at the end of their server_lifetime');
	ok(wait_for(sub { backends() == 2 }, timeout => 2.5), 'min_pool_size: and replaced by 2 new ones')
	    or diag(backends() . ' backends');
	is($c->query_value('SELECT 1'), 1, 'min_pool_size: the client is served');
	$c->terminate;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('reserve_pool_size');
{
	my $sl = fresh(settings => { reserve_pool_size => 2, reserve_pool_timeout => 1 });
	my $holder = $sl->proto;
	is($holder->query('BEGIN')->{status}, 'T', 'reserve_pool: a long transaction holds the only server');
	my $hpid = $holder->query_value('SELECT pg_backend_pid()');
	my @w = map { $sl->proto } 1 .. 2;
	my $t0 = time();
	$_->send(msg('Q', "SELECT pg_backend_pid()\0")) for @w;
	my ($type) = $w[0]->read_msg(0.3);
	ok(!defined $type, 'reserve_pool: the waiting clients are not served at once');
	my %pid;
	for my $i (0, 1) {
		my $r = $w[$i]->read_results(5);
		ok(!$r->{lost} && !@{ $r->{errors} }, "reserve_pool: waiting client $i is served from the reserve")
		    or diag($r->{lost} // error_text($r->{errors}[0]));
		$pid{ $r->{rows}[0][0] // '' } = 1;
	}
	my $took = time() - $t0;
	cmp_ok($took, '<', 5, sprintf('reserve_pool: both within 5 s (%.2f s)', $took));
	ok(!$pid{$hpid}, 'reserve_pool: by other backends than the holder\'s');
	is($holder->query_value('SELECT pg_backend_pid()'), $hpid, 'reserve_pool: the holder still holds its server');
	cmp_ok(backends(), '<=', 3, 'reserve_pool: at most pool + reserve backends');
	is($holder->query('COMMIT')->{status}, 'I', 'reserve_pool: the holder commits');
	$_->terminate for $holder, @w;
	$sl->stop;
}

# Every client sends BEGIN, pg_sleep(seconds), COMMIT at once; then each
# one's three answers are read. Returns how many were lost or errors.
sub sleepy_transactions
{
	my ($seconds, @c) = @_;
	my $bad = 0;
	$_->send(join('', map { msg('Q', "$_\0") } 'BEGIN', "SELECT pg_sleep($seconds)", 'COMMIT')) for @c;
	for my $i (0 .. $#c) {
		for (1 .. 3) {
			my $r = $c[$i]->read_results(15);
			$bad++, diag("client $i: " . ($r->{lost} // error_text($r->{errors}[0])))
			    if $r->{lost} || @{ $r->{errors} };
		}
	}
	return $bad;
}

# ---------------------------------------------------------------------------
note('max_user_connections');
{
	my $sl = fresh(settings => { default_pool_size => 5, max_user_connections => 2, query_wait_timeout => 10 });
	my @c = map { $sl->proto(db => $_ % 2 ? 'app' : 'app2') } 1 .. 6;
	# one server in each pool first: which pool gets the user's second
	# connection is otherwise a race (see the next block for why it matters)
	is($c[0]->query_value('SELECT 1'), 1, 'max_user_connections: warm-up in app');
	is($c[1]->query_value('SELECT 1'), 1, 'max_user_connections: warm-up in app2');
	my $w = $pg->watch_max(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'});
	wait_for(sub { ($w->peek)[1] >= 1 }, timeout => 5);
	my $bad = 0;
	$bad += sleepy_transactions(0.05, @c) for 1 .. 3;
	my ($max, $samples) = $w->stop;
	is($bad, 0, 'max_user_connections: 6 clients over two databases all served');
	cmp_ok($max // 99, '<=', 2, "max_user_connections: never more than 2 backends for the user (max "
	       . ($max // 'none') . ", $samples samples)");

	$_->terminate for @c;
	$sl->stop;
}
{
	# The user's limit is taken by one busy server in app and one idle
	# server in app2: a second client of app must get a server (PgBouncer
	# closes the idle one, evict_user_connection) rather than wait out
	# query_wait_timeout.
	my $sl = fresh(settings => { default_pool_size => 5, max_user_connections => 2, query_wait_timeout => 3 });
	my $other = $sl->proto(db => 'app2');
	is($other->query_value('SELECT 1'), 1, 'max_user_connections: a client of app2 leaves an idle server in its pool');
	my $a1 = $sl->proto(db => 'app');
	is($a1->query('BEGIN')->{status}, 'T', 'max_user_connections: a client of app holds a transaction');
	is($watch->query_value(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND datname = 'app2'}), 1,
	   'max_user_connections: the limit is taken by one server in each database');
	my $x = $sl->proto(db => 'app');
	my $t0 = time();
	my $r = $x->query('SELECT 1', timeout => 10);
	my $took = time() - $t0;
	ok(!$r->{lost} && !@{ $r->{errors} }, 'max_user_connections: a second client of app is served '
	   . 'although the limit is held by an idle server of app2')
	    or diag($r->{lost} // error_text($r->{errors}[0]));
	cmp_ok($took, '<', 2.5, sprintf('max_user_connections: before query_wait_timeout (%.2f s)', $took));
	cmp_ok(backends(), '<=', 2, 'max_user_connections: still at most 2 backends');
	is($a1->query('COMMIT')->{status}, 'I', 'max_user_connections: the holder commits');
	$_->terminate for $a1, $other;
	$x->close;
	$sl->stop;
}

{
	# A limit set by a reload holds for pools made before it (pools keep
	# the user's limit and take it again at every change).
	my $sl = fresh(settings => { default_pool_size => 5, query_wait_timeout => 10 });
	my @c = map { $sl->proto(db => 'app') } 1 .. 4;
	is($c[0]->query_value('SELECT 1'), 1, 'max_user_connections set later: the pool exists');
	$sl->{settings}{max_user_connections} = 1;
	$sl->reload;
	ok(wait_for(sub { $sl->log_contents =~ /configuration reloaded/ }, timeout => 10),
	   'max_user_connections set later: reloaded');
	my $w = $pg->watch_max(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'});
	my $bad = sleepy_transactions(0.1, @c);
	my ($max, $samples) = $w->stop;
	is($bad, 0, 'max_user_connections set later: 4 clients all served');
	cmp_ok($max // 99, '<=', 1, "max_user_connections set later: never more than 1 backend (max "
	       . ($max // 'none') . ", $samples samples)");
	$_->terminate for @c;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('server_check_query / server_check_delay');
{
	my $sl = fresh(settings => { server_check_query => q{select 'sluice-check-42'}, server_check_delay => 0.5 });
	my $c = $sl->proto;
	my $p = $c->query_value(q{SELECT pg_backend_pid() /* check-first */});
	ok(wait_for(sub { $watch->query_value("SELECT state = 'idle' AND now() - state_change > interval '0.8 s' "
					      . "FROM pg_stat_activity WHERE pid = $p") eq 't' }, timeout => 10),
	   'server_check: the server sat idle longer than server_check_delay');
	is($c->query_value(q{SELECT 'served' /* check-after */}), 'served', 'server_check: the next use is served normally');
	my ($check_at, $use_at);
	ok(wait_for(sub {
		my @lines = split /\n/, $pg->log_contents;
		($check_at, $use_at) = (undef, undef);
		for my $i (0 .. $#lines) {
			next unless $lines[$i] =~ /\[$p\].*statement: /;
			$check_at = $i if $lines[$i] =~ /sluice-check-42/ && !defined $use_at;
			$use_at = $i if $lines[$i] =~ /check-after/;
		}
		return defined $use_at;
	}, timeout => 10), 'server_check: the use is in the PostgreSQL log');
	ok(defined $check_at, "server_check: the check query ran on backend $p before the client's query");
	$c->terminate;
	$sl->stop;
}

{
	# a server whose check fails is closed, and the client gets another
	my $sl = fresh(settings => { server_check_query => 'select 1/0', server_check_delay => 0 });
	my $c = $sl->proto;
	my (%pids, $bad);
	for (1 .. 3) {
		my $r = $c->query('SELECT pg_backend_pid()', timeout => 10);
		$bad++ if $r->{lost} || @{ $r->{errors} };
		$pids{ $r->{rows}[0][0] // 'none' }++;
	}
	ok(!$bad, 'server_check: with a failing check query, the client is still served every time');
	is(scalar(grep { $_ ne 'none' } keys %pids), 3, 'server_check: each failed check closed the server (three backends)');
	$c->terminate;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('server_connect_timeout');
{
	# a listener that never accepts: the kernel completes the handshake,
	# nobody ever answers the startup packet
	my $port = free_port();
	my $hole = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 1, Proto => 'tcp')
	    or die "listen: $!";
	my $sl = fresh(databases => { hole => "host=127.0.0.1 port=$port dbname=app" },
		       settings => { server_connect_timeout => 1, query_wait_timeout => 3 });
	$sl->expect_log(qr/ hole\/app\S+ pooler error: could not connect to server: server_connect_timeout expired \(no server for 3 s\) \(sqlstate=08006\)/);
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $t0 = time();
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'hole', timeout => 15);
	my $took = time() - $t0;
	ok(!$r->{ok}, 'server_connect_timeout: the client does not get in');
	like($r->{error}{C} // '', qr/^08/, 'server_connect_timeout: SQLSTATE class 08') or diag(error_text($r->{error}));
	note('client saw: ' . error_text($r->{error}));
	cmp_ok($took, '<', 8, sprintf('server_connect_timeout: the error came within 8 s (%.2f s)', $took));
	ok(wait_for(sub { $sl->log_contents =~ /server_connect_timeout/ }, timeout => 5),
	   'server_connect_timeout: the log says server_connect_timeout');
	close $hole;
	$sl->stop;
}

# ---------------------------------------------------------------------------
note('server_login_retry');
{
	# a server that accepts and hangs up at once, counting connections
	my $port = free_port();
	my $counter = File::Temp->new(TMPDIR => 1);
	my $lsock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 16,
					  Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
	my $kid = fork() // die "fork: $!";
	if ($kid == 0) {
		my $n = 0;
		while (my $s = $lsock->accept) {
			close $s;
			$n++;
			SluiceTest::spit($counter->filename, "$n\n");
		}
		POSIX::_exit(0);
	}
	close $lsock;
	my $sl = fresh(databases => { flaky => "host=127.0.0.1 port=$port dbname=app" },
		       settings => { server_login_retry => 2, query_wait_timeout => 5 });
	# the hang-up reads as a reset or as a close, as the timing has it
	$sl->expect_log(qr/ flaky\/app\S+ pooler error: could not connect to server: (?:Connection reset by peer|server closed the connection) \(no server for 5 s\) \(sqlstate=08006\)/);
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $t0 = time();
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'flaky', timeout => 20);
	my $took = time() - $t0;
	ok(!$r->{ok}, 'server_login_retry: the client gets an error') or diag('it logged in?');
	note('client saw: ' . error_text($r->{error}) . sprintf(' after %.2f s', $took));
	my $n = (slurp($counter->filename) =~ /(\d+)/)[0] // 0;
	kill 'TERM', $kid;
	waitpid($kid, 0);
	cmp_ok($n, '>=', 2, "server_login_retry: sluice tried again ($n connection attempts in ~5 s)");
	cmp_ok($n, '<=', 4, 'server_login_retry: at most 4 attempts in 5 s (no spinning)');
	$sl->stop;
}

# the backend whose query timed out was closed (PostgreSQL notices once
# its pg_sleep(5) is over: sluice closes the socket, it sends no cancel)
ok(wait_for(sub { !backend_exists($qt_pid) }, timeout => 15), 'query_timeout: the timed-out backend was closed');

$watch->terminate;

done_testing();
