# Pool limits and what happens at their edges, in session mode:
# query_wait_timeout, FIFO hand-over of a freed server, max_db_connections
# across two pools of one database, server_reset_query failing (the server
# is closed, not reused), client_login_timeout on silent and half-sent
# logins, a client that vanishes mid-transaction, and PostgreSQL going away
# and coming back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time);
use SluiceTest qw(spawn wait_for);
use SluiceTest::Proto qw(msg error_text);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_role('app2', 'app2_pw');
$pg->create_db('app', 'app');
$pg->create_db('lim', 'app');            # only the max_db_connections test uses it
$pg->safe_psql('app', 'CREATE TABLE fifo (id bigserial PRIMARY KEY, who text, backend int); '
	       . 'CREATE TABLE t (v int); GRANT ALL ON fifo, fifo_id_seq, t TO app');
my $watch = $pg->proto(db => 'app');     # direct superuser connection for looking

my %users = (app => 'app_pw', app2 => 'app2_pw');
my %dbs = (app => $pg->connstr('app'), lim => $pg->connstr('lim'));

# A backend of PostgreSQL still exists.
sub backend_exists
{
	my ($pid) = @_;
	return $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '1';
}

# Whole backend messages in a byte string: ([type, body], ...); a torn
# tail comes back as ['?', rest].
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
	push @m, [ '?', $data ] if length $data;
	return @m;
}

# ---------------------------------------------------------------------------
# query_wait_timeout: the only server is held; a second client's query is
# refused once the timeout passes.
{
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => \%dbs, users => \%users, default_user => 'app',
		settings => { default_pool_size => 1, query_wait_timeout => 1 },
	);
	$sl->expect_log(qr/pooler error: query_wait_timeout: no server connection became free within 1 s \(sqlstate=08P01\)/);
	my $a = $sl->proto;
	my $apid = $a->query_value('SELECT pg_backend_pid()');
	like($apid, qr/^\d+$/, 'query_wait_timeout: client A holds the only server');

	my $b = $sl->proto;
	my $t0 = time();
	my $r = $b->query('SELECT 1', timeout => 15);
	my $took = time() - $t0;
	ok(!@{ $r->{rows} }, 'query_wait_timeout: client B gets no rows while A holds the server');
	my $e = $r->{errors}[0];
	is($e && $e->{C}, '08P01', 'query_wait_timeout: B gets SQLSTATE 08P01')
	    or diag('got: ' . ($e ? error_text($e) : $r->{lost} // 'nothing'));
	like($e && $e->{M}, qr/^query_wait_timeout/, 'query_wait_timeout: message starts with "query_wait_timeout"');
	cmp_ok($took, '<', 10, sprintf('query_wait_timeout: B answered within 10 s (%.2f s)', $took));
	$b->close;

	# Waiters that came at different moments each get their own full
	# wait: C, queued 1 s after B, is not refused at B's moment.
	my ($qb, $qc) = ($sl->proto, $sl->proto);
	my $tb = time();
	$qb->send(msg('Q', "SELECT 1\0"));
	select(undef, undef, undef, 1.0);   # deliberate: C comes 1 s after B
	my $tc = time();
	$qc->send(msg('Q', "SELECT 1\0"));
	my $rb = $qb->read_results(15);
	my $b_at = time();
	my $rc = $qc->read_results(15);
	my $c_at = time();
	like($rb->{errors}[0] && $rb->{errors}[0]{M}, qr/^query_wait_timeout/, 'two waiters: the first is refused');
	like($rc->{errors}[0] && $rc->{errors}[0]{M}, qr/^query_wait_timeout/, 'two waiters: so is the second');
	cmp_ok($c_at - $tc, '>=', 0.9, sprintf('two waiters: the second waited its own timeout (%.2f s, '
	       . 'the first %.2f s)', $c_at - $tc, $b_at - $tb));
	cmp_ok($c_at - $tc, '<', 10, 'two waiters: ... and was not forgotten');
	$qb->close;
	$qc->close;

	is($a->query_value('SELECT pg_backend_pid()'), $apid, 'query_wait_timeout: A still holds its server');
	$a->terminate;
	my $c = $sl->proto;
	is($c->query_value('SELECT 42', timeout => 15), '42', 'query_wait_timeout: after A leaves, a new client is served');
	$c->terminate;
}

# ---------------------------------------------------------------------------
# Main instance: pool size 1, a patient query_wait_timeout, a short
# client_login_timeout.
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => \%dbs, users => \%users, default_user => 'app',
	settings => { default_pool_size => 1, query_wait_timeout => 30, client_login_timeout => 1,
		      tcp_defer_accept => 0 },   # the silent socket below must be accepted
);
$sl->expect_log(qr/pooler error: client_login_timeout: login took longer than 1 s \(sqlstate=08P01\)/);

# --- FIFO: B, C, D queue in that order behind A; when A leaves they are
# served in that order (their INSERTs take ids in order).
{
	my $a = $sl->proto;
	my $apid = $a->query_value('SELECT pg_backend_pid()');
	my @q;
	for my $who (qw(B C D)) {
		my $c = $sl->proto;
		$c->send(msg('Q', "INSERT INTO fifo (who, backend) VALUES ('$who', pg_backend_pid()) RETURNING id\0"));
		# proves it is queued (and makes the order of arrival certain)
		my ($type) = $c->read_msg(0.3);
		ok(!defined $type && !$c->{eof}, "FIFO: $who waits while A holds the server");
		push @q, [ $who, $c ];
	}
	$a->terminate;
	my %id;
	for my $q (@q) {
		my ($who, $c) = @$q;
		my $r = $c->read_results(20);
		ok(!$r->{lost} && !@{ $r->{errors} }, "FIFO: $who is served after A leaves")
		    or diag($r->{lost} // error_text($r->{errors}[0]));
		$id{$who} = $r->{rows}[0][0];
		$c->terminate;
	}
	my $order = $watch->query_value(q{SELECT string_agg(who, '' ORDER BY id) FROM fifo});
	is($order, 'BCD', 'FIFO: the waiting clients got the server in arrival order (B, C, D)');
	is($watch->query_value('SELECT count(DISTINCT backend) FROM fifo'), '1',
	   'FIFO: all were handed the same server (pool size 1)');
	is($watch->query_value('SELECT min(backend) FROM fifo'), $apid, "FIFO: ... the one A had");
}

# --- tcp_defer_accept (on by default, as in PgBouncer on Linux): a TCP
# connection that has sent nothing is not accepted yet, so it is no login
# client (for the first second: then the kernel accepts it anyway, and
# client_login_timeout applies, see 39-silent-login.t, so the look below
# is half a second); once it sends its startup packet it is served at once. Off, as
# on the main instance, or with so_reuseport (a handover closes the old
# listener, and the kernel would reset what it still held back for it):
# accepted and counted at once.
for my $case ([ 'on', 1, {} ], [ 'off', 0, { tcp_defer_accept => 0 } ],
	      [ 'on with so_reuseport', 0, { so_reuseport => 1 } ]) {
	my ($name, $defer, $set) = @$case;
	my $d = SluiceTest::Sluice->new(
		pg => $pg, databases => \%dbs, users => \%users, default_user => 'app',
		settings => { admin_users => 'app', %$set },
	);
	my $console = $d->proto(dbname => 'pgbouncer');
	my $login_clients = sub {
		my $r = $console->query('SHOW LISTS');
		my ($row) = grep { $_->[0] eq 'login_clients' } @{ $r->{rows} };
		return $row ? $row->[1] : -1;
	};
	my $silent = SluiceTest::Proto->connect(port => $d->port);
	my $want = $defer ? 0 : 1;
	my $seen = wait_for(sub { $login_clients->() == 1 }, timeout => $defer ? 0.5 : 1,
			    interval => 0.05) ? 1 : 0;
	is($seen, $want, "tcp_defer_accept $name: a silent TCP connection "
	   . ($defer ? 'is not a login client yet' : 'is a login client at once'));
	my $r = $silent->login(user => 'app', password => 'app_pw', database => 'app');
	ok($r->{ok}, "tcp_defer_accept $name: it logs in once it speaks")
	    or diag(error_text($r->{error}));
	is($silent->query_value('SELECT 7'), '7', "tcp_defer_accept $name: and is served");
	$silent->terminate;
	$console->terminate;
	$d->stop;
}

# --- client_login_timeout: silent and half-sent logins are closed; a
# logged-in client idle for longer is not.
{
	my $held = $sl->proto;
	is($held->query_value('SELECT 1'), '1', 'login timeout: a logged-in client, held');

	my %case = (
		'a socket that sends nothing' => '',
		'half a startup packet'       => pack('N', 40) . pack('N', 196608) . "user\0ap",
		'a startup packet, then no password' =>
		    SluiceTest::Proto::startup_packet({ user => 'app', database => 'app' }),
	);
	my %conn;
	my $t0 = time();
	for my $what (sort keys %case) {
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		$c->send($case{$what}) if length $case{$what};
		$conn{$what} = $c;
	}
	for my $what (sort keys %case) {
		my ($eof, $data) = $conn{$what}->wait_eof(10);
		ok($eof, sprintf('login timeout: %s is closed by sluice (%.1f s after connecting)', $what, time() - $t0));
		# an authentication request, then an ErrorResponse, is fine
		my @msgs = grep { $_->[0] ne 'R' } split_messages($data);
		ok(!@msgs || (@msgs == 1 && $msgs[0][0] eq 'E'),
		   "login timeout: $what: nothing or an ErrorResponse before EOF")
		    or diag('got message types: ' . join(' ', map { $_->[0] } @msgs));
		if (@msgs && $msgs[0][0] eq 'E') {
			my $e = SluiceTest::Proto::parse_error($msgs[0][1]);
			like($e->{M}, qr/^client_login_timeout/, "login timeout: $what: the error names client_login_timeout")
			    or diag(error_text($e));
		}
	}
	is($held->query_value('SELECT 2'), '2', 'login timeout: the logged-in client idle meanwhile still works');
	$held->terminate;
}

# --- a client that disconnects mid-transaction: its server is not handed
# on with the transaction open.
{
	my $x = $sl->proto;
	my $xpid = $x->query_value('SELECT pg_backend_pid()');
	my $r = $x->query('BEGIN');
	$r = $x->query('INSERT INTO t VALUES (1)');
	is($r->{status}, 'T', 'mid-transaction: X is inside a transaction with an uncommitted row');
	$x->close;      # no COMMIT, no Terminate

	my $y = $sl->proto;
	$r = $y->query('SELECT count(*) FROM t', timeout => 20);
	ok(!$r->{lost} && !@{ $r->{errors} }, 'mid-transaction: the next client is served')
	    or diag($r->{lost} // error_text($r->{errors}[0]));
	is($r->{rows}[0][0], '0', "mid-transaction: the next client does not see X's uncommitted row");
	is($r->{status}, 'I', 'mid-transaction: the next client is not inside a transaction');
	my $ypid = $y->query_value('SELECT pg_backend_pid()');
	ok(wait_for(sub {
		$y->query_value(q{SELECT count(*) FROM pg_locks WHERE relation = 't'::regclass AND pid <> pg_backend_pid()}) eq '0'
	}, timeout => 10), 'mid-transaction: no locks on t held by the dead transaction');
	ok($ypid == $xpid || wait_for(sub { !backend_exists($xpid) }, timeout => 10),
	   'mid-transaction: X\'s backend was reused clean or is gone');
	$r = $y->query('SELECT 1');
	is_deeply($r->{rows}, [[1]], 'mid-transaction: SELECT 1 works');
	is($r->{status}, 'I', 'mid-transaction: ReadyForQuery idle');
	$y->terminate;
	is($watch->query_value('SELECT count(*) FROM t'), '0', 'mid-transaction: the row was rolled back');
}

# ---------------------------------------------------------------------------
# max_db_connections = 2 over two pools (users app and app2) of database lim,
# each allowed 5: ten concurrent clients all finish, PostgreSQL never sees
# more than 2 backends for the database.
{
	my $sl2 = SluiceTest::Sluice->new(
		pg => $pg, databases => \%dbs, users => \%users, default_user => 'app', default_db => 'lim',
		settings => { default_pool_size => 5, max_db_connections => 2, query_wait_timeout => 10 },
	);
	my $dir = SluiceTest::new_tempdir('dbconn');

	# Hand-over between pools: two app clients hold both slots; an app2
	# client waits (first at login, since its pool has never logged in,
	# then at a query); when an app client leaves, its server goes idle in
	# app's pool and the waiting app2 client must get the slot at once, not
	# at its timeout.
	{
		# app2's pool learns the welcome of a client without startup
		# parameters (psql's, below, has application_name, which session
		# mode keys servers by)
		my $first = $sl2->proto(user => 'app2', db => 'lim');
		is($first->query_value('SELECT 1'), '1', 'max_db_connections: an app2 client without parameters');
		$first->terminate;
		my @a = map { $sl2->proto(user => 'app', db => 'lim') } 1 .. 2;
		is(scalar(grep { ($_->query_value('SELECT 1') // '') eq '1' } @a), 2,
		   'max_db_connections: two app clients hold both slots');
		my $bpid = spawn([ SluiceTest::psql_bin(), '-X', '-w', '-q', '-A', '-t', '-h', '127.0.0.1',
				   '-p', $sl2->port, '-U', 'app2', '-d', 'lim', '-c', q{SELECT 'b'} ],
				 env => { PGPASSWORD => 'app2_pw', PGCONNECT_TIMEOUT => 20, PGGSSENCMODE => 'disable' },
				 stdout => "$dir/b.out", stderr => "$dir/b.err");
		ok(!wait_for(sub { waitpid($bpid, WNOHANG) == $bpid }, timeout => 0.5),
		   'max_db_connections: an app2 client waits at login while app holds both slots');
		shift(@a)->terminate;
		my $t0 = time();
		my $done = wait_for(sub { waitpid($bpid, WNOHANG) == $bpid }, timeout => 5);
		my $rc = $done ? SluiceTest::exit_code($?) : 'running';
		if (!$done) { kill 'KILL', $bpid; waitpid($bpid, 0) }
		ok($done && $rc eq '0' && SluiceTest::slurp("$dir/b.out") eq "b\n",
		   sprintf('max_db_connections: when an app client leaves, the app2 client waiting at login is served (%s after %.1f s)',
			   $done ? "rc $rc" : 'still waiting', time() - $t0))
		    or diag(SluiceTest::slurp("$dir/b.err"));

		push @a, $sl2->proto(user => 'app', db => 'lim');
		is($a[-1]->query_value('SELECT 2', timeout => 10), '2', 'max_db_connections: app takes both slots again');
		my $c = SluiceTest::Proto->connect(port => $sl2->port);
		my $login = $c->login(user => 'app2', password => 'app2_pw', database => 'lim', timeout => 5);
		ok($login->{ok}, 'max_db_connections: an app2 client logs in (its pool has logged in before)')
		    or diag(error_text($login->{error}));
		my ($r, $waited);
		if ($login->{ok}) {
			$c->send(msg('Q', "SELECT 'c'\0"));
			my ($type) = $c->read_msg(0.3);
			$waited = !defined $type && !$c->{eof};
			shift(@a)->terminate;
			$t0 = time();
			$r = $c->read_results(5);
		} else {
			shift(@a)->terminate;
			$r = { lost => 'no login', rows => [], errors => [] };
		}
		ok($waited, 'max_db_connections: an app2 query waits while app holds both slots');
		ok(!$r->{lost} && ($r->{rows}[0][0] // '') eq 'c',
		   sprintf('max_db_connections: when an app client leaves, the waiting app2 query is served (%s after %.1f s)',
			   $r->{lost} // 'answered', time() - $t0))
		    or diag($r->{lost} // error_text($r->{errors}[0]));
		$_->terminate for @a, $c;
	}

	# Ten concurrent clients, five per user.
	my %pids;
	my $count_sql = q{SELECT count(*) FROM pg_stat_activity WHERE datname = 'lim' AND backend_type = 'client backend'};
	for my $i (1 .. 10) {
		my $user = $i % 2 ? 'app' : 'app2';
		my $pid = spawn([ SluiceTest::psql_bin(), '-X', '-w', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
				  '-h', '127.0.0.1', '-p', $sl2->port, '-U', $user, '-d', 'lim',
				  '-c', "SELECT '$user', pg_sleep(0.2)" ],
				env => { PGPASSWORD => $users{$user}, PGCONNECT_TIMEOUT => 10, PGGSSENCMODE => 'disable' },
				stdout => "$dir/out.$i", stderr => "$dir/err.$i");
		$pids{$pid} = $i;
	}
	my %rc;
	my ($max, $samples) = (0, 0);
	my $deadline = time() + 30;
	while (%pids && time() < $deadline) {
		my $n = $watch->query_value($count_sql);
		die "lost the watching connection" unless defined $n;
		$samples++;
		$max = $n if $n > $max;
		for my $pid (keys %pids) {
			next unless waitpid($pid, WNOHANG) == $pid;
			$rc{ $pids{$pid} } = SluiceTest::exit_code($?);
			delete $pids{$pid};
		}
		select(undef, undef, undef, 0.01);   # the sampling interval
	}
	for my $pid (keys %pids) {
		kill 'KILL', $pid;
		waitpid($pid, 0);
		$rc{ $pids{$pid} } = 'killed';
	}
	my @bad = grep { $rc{$_} ne '0' } 1 .. 10;
	is(scalar @bad, 0, 'max_db_connections: all 10 clients of both users succeeded');
	diag("client $_: rc $rc{$_}: " . SluiceTest::slurp("$dir/err.$_")) for @bad;
	is(scalar(grep { SluiceTest::slurp("$dir/out.$_") eq ($_ % 2 ? 'app' : 'app2') . "|\n" } 1 .. 10), 10,
	   'max_db_connections: every client got its answer');
	cmp_ok($max, '<=', 2, "max_db_connections: PostgreSQL saw at most 2 backends for the database (max $max in $samples samples)");
	cmp_ok($max, '>=', 2, 'max_db_connections: and the limit was reached');
	cmp_ok($watch->query_value($count_sql), '<=', 2, 'max_db_connections: at most 2 server connections remain');
	$sl2->stop;
}

# ---------------------------------------------------------------------------
# server_reset_query that fails: the server is closed, not reused.
{
	my $sl3 = SluiceTest::Sluice->new(
		pg => $pg, databases => \%dbs, users => \%users, default_user => 'app',
		settings => { default_pool_size => 1, server_reset_query => 'SELECT 1/0' },
	);
	my $c1 = $sl3->proto;
	my $pid1 = $c1->query_value('SELECT pg_backend_pid()');
	like($pid1, qr/^\d+$/, 'failing reset: client 1 has a backend');
	$c1->terminate;
	my $c2 = $sl3->proto;
	my $pid2 = $c2->query_value('SELECT pg_backend_pid()', timeout => 20);
	like($pid2, qr/^\d+$/, 'failing reset: client 2 is served');
	isnt($pid2, $pid1, 'failing reset: client 2 got a different backend');
	ok(wait_for(sub { !backend_exists($pid1) }, timeout => 10),
	   "failing reset: client 1's backend is gone from pg_stat_activity");
	$c2->terminate;
	$sl3->stop;
}

# ---------------------------------------------------------------------------
# PostgreSQL stops: a new client gets a clean 08xxx error quickly (at once,
# or once query_wait_timeout passes while sluice retries), sluice stays up;
# PostgreSQL starts again: clients are served again.
{
	$sl->stop;
	$sl = SluiceTest::Sluice->new(
		pg => $pg, databases => \%dbs, users => \%users, default_user => 'app',
		settings => { default_pool_size => 1, query_wait_timeout => 3, server_login_retry => 1 },
	);
	$sl->expect_log(qr/pooler error: could not connect to server: Connection refused \(no server for 3 s\) \(sqlstate=08006\)/);
	is($sl->safe_psql('SELECT 1'), '1', 'server down: served before the stop');
	$watch->terminate;
	$pg->stop;

	my $t0 = time();
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => 15);
	my $login = $c->login(user => 'app', password => 'app_pw', database => 'app');
	my $e;
	if ($login->{ok}) {
		my $r = $c->query('SELECT 1', timeout => 15);
		$e = $r->{errors}[0];
		diag("query got: $r->{lost}") if $r->{lost} && !$e;
	} else {
		$e = $login->{error};
	}
	my $took = time() - $t0;
	like($e && $e->{C}, qr/^08/, 'server down: the client gets an error of class 08')
	    or diag('got: ' . error_text($e));
	like($e && $e->{M}, qr/connect/i, 'server down: the message is about connecting') or diag(error_text($e));
	cmp_ok($took, '<', 10, sprintf('server down: the error came within 10 s (%.2f s), no hang', $took));
	$c->close;

	my (undef, $err, $rc) = $sl->psql('SELECT 1', timeout => 20);
	isnt($rc, 0, 'server down: psql fails too');
	ok($sl->alive, 'server down: sluice is still running');

	$pg->start;
	my $out;
	ok(wait_for(sub { ($out) = $sl->psql('SELECT 7', timeout => 15); $out eq '7' }, timeout => 20, interval => 0.2),
	   'server back: a new client is served');
}

done_testing();
