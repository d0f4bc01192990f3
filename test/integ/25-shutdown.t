# Stopping: SIGINT is a safe shutdown (stop accepting, let transactions in
# flight finish, exit), SIGTERM is immediate; both remove the pidfile. On
# the console: SHUTDOWN (immediate), SHUTDOWN WAIT_FOR_SERVERS (as SIGINT),
# SHUTDOWN WAIT_FOR_CLIENTS (exit when the last client has left).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use SluiceTest;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', 'CREATE TABLE t (x int); GRANT ALL ON t TO app');

sub start_sluice
{
	my (%settings) = @_;
	my $dir = SluiceTest::new_tempdir('pid');
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app', user => 'app', password => 'app_pw') },
		users => { app => 'app_pw', admin => 'admin_pw' },
		settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
			      pidfile => "$dir/sluice.pid", %settings },
	);
	# every case shuts it down under connected clients (and a console)
	$sl->expect_log(qr/ (?:app\/app|pgbouncer\/admin)\S+ pooler error: sluice is shutting down \(sqlstate=57P01\)/);
	ok(-s "$dir/sluice.pid", 'pidfile written') ;
	return ($sl, "$dir/sluice.pid");
}
sub app     { my ($sl) = @_; $sl->proto(user => 'app', password => 'app_pw', dbname => 'app') }
sub console { my ($sl) = @_; $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer') }
sub can_connect
{
	my ($sl) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sl->port, Proto => 'tcp', Timeout => 2);
	return $s ? 1 : 0;
}
# Exited by itself, as asked: status 0 (then check_log must not count it
# as a crash).
sub exited
{
	my ($sl) = @_;
	return 0 unless SluiceTest::wait_for(sub { !$sl->alive }, timeout => 10);
	return 0 unless ($sl->{exit_status} // -1) == 0;
	delete $sl->{crashed};
	return 1;
}
sub send_query { my ($c, $sql) = @_; $c->send(SluiceTest::Proto::msg('Q', "$sql\0")) }

# ---- SIGINT: safe shutdown ----
for my $mode ('transaction', 'session') {
	my ($sl, $pidfile) = start_sluice(pool_mode => $mode);
	my $a = app($sl);
	my $idle = app($sl);
	is($idle->query_value('SELECT 1'), 1, "$mode: a client between transactions");
	is($a->query('BEGIN')->{status}, 'T', "$mode: a client inside a transaction");
	$a->query("INSERT INTO t VALUES (1)");
	kill 'INT', $sl->pid;
	ok(SluiceTest::wait_for(sub { !can_connect($sl) }, timeout => 5), "$mode SIGINT: new connections are refused");
	ok($sl->alive, "$mode SIGINT: still running while a transaction is open");
	is($a->query("INSERT INTO t VALUES (2)")->{status}, 'T', "$mode SIGINT: the transaction goes on");
	is($a->query('COMMIT')->{status}, 'I', "$mode SIGINT: and commits");
	ok(exited($sl), "$mode SIGINT: then sluice exits with status 0");
	ok(!-e $pidfile, "$mode SIGINT: the pidfile is gone");
	is($pg->safe_psql('app', 'SELECT count(*) FROM t'), 2, "$mode SIGINT: the transaction's work is committed");
	$pg->safe_psql('app', 'TRUNCATE t');
	SluiceTest::check_log($sl);
}

# ---- SIGTERM: immediate ----
{
	my ($sl, $pidfile) = start_sluice();
	my $a = app($sl);
	is($a->query('BEGIN')->{status}, 'T', 'SIGTERM: a client inside a transaction');
	$a->query("INSERT INTO t VALUES (1)");
	kill 'TERM', $sl->pid;
	ok(exited($sl), 'SIGTERM: sluice exits at once, transaction or not');
	ok(!-e $pidfile, 'SIGTERM: the pidfile is gone');
	ok(SluiceTest::wait_for(sub { $pg->safe_psql('app', 'SELECT count(*) FROM t') eq '0' }, timeout => 10),
	   'SIGTERM: the open transaction was not committed');
	SluiceTest::check_log($sl);
}

# ---- SHUTDOWN on the console ----
{
	my ($sl, $pidfile) = start_sluice();
	my $adm = console($sl);
	send_query($adm, 'SHUTDOWN');
	ok(exited($sl), 'SHUTDOWN: sluice exits');
	ok(!-e $pidfile, 'SHUTDOWN: the pidfile is gone');
	SluiceTest::check_log($sl);
}

# ---- SHUTDOWN WAIT_FOR_SERVERS ----
{
	my ($sl) = start_sluice();
	my $a = app($sl);
	my $adm = console($sl);
	$a->query('BEGIN');
	$a->query('SELECT 1');
	is_deeply($adm->query('SHUTDOWN WAIT_FOR_SERVERS')->{tags}, ['SHUTDOWN'], 'SHUTDOWN WAIT_FOR_SERVERS answers');
	ok(SluiceTest::wait_for(sub { !can_connect($sl) }, timeout => 5), 'WAIT_FOR_SERVERS: new connections are refused');
	ok($sl->alive, 'WAIT_FOR_SERVERS: still running while a transaction is open');
	is($a->query('COMMIT')->{status}, 'I', 'WAIT_FOR_SERVERS: the transaction commits');
	ok(exited($sl), 'WAIT_FOR_SERVERS: then sluice exits');
	SluiceTest::check_log($sl);
}

# ---- SHUTDOWN WAIT_FOR_CLIENTS ----
{
	my ($sl, $pidfile) = start_sluice();
	my $a = app($sl);
	my $adm = console($sl);
	is_deeply($adm->query('SHUTDOWN WAIT_FOR_CLIENTS')->{tags}, ['SHUTDOWN'], 'SHUTDOWN WAIT_FOR_CLIENTS answers');
	ok(SluiceTest::wait_for(sub { !can_connect($sl) }, timeout => 5), 'WAIT_FOR_CLIENTS: new connections are refused');
	for my $i (1 .. 3) {
		is($a->query_value("SELECT $i"), $i, "WAIT_FOR_CLIENTS: a connected client keeps working ($i)");
	}
	ok($sl->alive, 'WAIT_FOR_CLIENTS: still running while a client is connected');
	$a->terminate;
	ok(exited($sl), 'WAIT_FOR_CLIENTS: sluice exits when the last client leaves (the console does not count)');
	ok(!-e $pidfile, 'WAIT_FOR_CLIENTS: the pidfile is gone');
	SluiceTest::check_log($sl);
}

done_testing();
