# Faults underneath sluice: PostgreSQL restarted while ten libpq clients
# keep working in transaction mode (they see a few errors, keep their
# connections, and work again afterwards); a restart under a session-mode
# client (its session ends, as with PostgreSQL itself); a database entry
# pointing at a port nobody listens on (clients get an error in bounded
# time, and sluice does not spin meanwhile).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use POSIX ();
use Time::HiRes qw(time);
use SluiceTest qw(wait_for run_c_test free_port slurp spit);
use SluiceTest::Proto qw(error_text);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', 'CREATE TABLE hits (client int, n int); GRANT ALL ON hits TO app');

# CPU time (user + system) a process has used, from /proc/PID/stat.
sub cpu_seconds
{
	my ($pid) = @_;
	my @f = split ' ', (slurp("/proc/$pid/stat") =~ /\)\s+(.*)/s)[0] // '';
	return (($f[11] // 0) + ($f[12] // 0)) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

# ---------------------------------------------------------------------------
# PostgreSQL restarts under load, transaction mode.
{
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
		settings => { pool_mode => 'transaction', default_pool_size => 4,
			      server_login_retry => 0.5, query_wait_timeout => 30 },
	);
	# PostgreSQL's restart: the clients' servers go away, and logins
	# meanwhile find it shutting down or starting up (a login under way
	# when the fast shutdown begins is terminated like any backend)
	$sl->expect_log(qr/pooler error: server closed the connection unexpectedly \(sqlstate=08006\)/,
			qr/ S-\d+ \S+ login failed: (?:the database system is (?:shutting down|starting up)|terminating connection due to administrator command)$/);
	my $dir = SluiceTest::new_tempdir('faults');
	my ($ready, $stop) = ("$dir/ready", "$dir/stop");

	# A child process does the restart while run_c_test below waits for
	# the clients: once they all run, restart PostgreSQL (fast), wait
	# until sluice serves again, let the clients go on for a moment, then
	# tell them to finish.
	my $kid = fork() // die "fork: $!";
	if ($kid == 0) {
		my $log = "$dir/restart.log";
		my $ok = eval {
			wait_for(sub { -e $ready }, timeout => 30) or die "the clients never got going\n";
			my $t0 = time();
			$pg->restart;   # pg_ctl stop -m fast, then start and poll until ready
			my $t1 = time();
			wait_for(sub { ($sl->psql('SELECT 1', timeout => 10))[0] eq '1' }, timeout => 30)
			    or die "sluice does not serve after the restart\n";
			spit($log, sprintf("restart took %.2f s, sluice served again %.2f s later\n",
					   $t1 - $t0, time() - $t1));
			select(undef, undef, undef, 0.5);   # pacing: let the clients work after the restart
			1;
		};
		spit($log, "restart failed: $@") unless $ok;
		spit($stop, '');
		POSIX::_exit($ok ? 0 : 1);
	}
	my $t0 = time();
	run_c_test('loadloop', $sl->connstr, 10, $ready, $stop, 20, 20, 40,
		   { label => 'restart under load', timeout => 90 });
	waitpid($kid, 0);
	chomp(my $how = slurp("$dir/restart.log"));
	is($? >> 8, 0, "the restart went through: $how");
	note(sprintf('load run took %.1f s', time() - $t0));
	cmp_ok($pg->safe_psql('app', 'SELECT count(*) FROM hits'), '>', 0, 'the clients committed work');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# Session mode: the restart ends the session.
{
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
		settings => { pool_mode => 'session', default_pool_size => 2, server_login_retry => 0.5 },
	);
	# PostgreSQL's restart: the clients' servers go away, and logins
	# meanwhile find it shutting down or starting up (a login under way
	# when the fast shutdown begins is terminated like any backend)
	$sl->expect_log(qr/pooler error: server closed the connection unexpectedly \(sqlstate=08006\)/,
			qr/ S-\d+ \S+ login failed: (?:the database system is (?:shutting down|starting up)|terminating connection due to administrator command)$/);
	my $c = $sl->proto;
	my $pid = $c->query_value('SELECT pg_backend_pid()');
	like($pid, qr/^\d+$/, 'session mode: a client holds a server');
	$pg->restart;
	my $r = $c->query('SELECT 1', timeout => 10);
	ok($r->{lost} || @{ $r->{errors} }, 'session mode: its next query after the restart fails')
	    or diag('got rows: ' . join(',', map { @$_ } @{ $r->{rows} }));
	note('the client saw: ' . join(' | ', map { error_text($_) } @{ $r->{errors} // [] }) . ' '
	     . ($r->{lost} // ''));
	my ($eof) = $c->wait_eof(10);
	ok($eof, 'session mode: and its connection is closed');
	is($sl->safe_psql('SELECT 2', timeout => 20), 2, 'session mode: a new client is served');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# A database nobody listens for: an error in bounded time, no spinning.
{
	my $port = free_port();   # reserved, never bound: connections are refused
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app'), gone => "host=127.0.0.1 port=$port dbname=app" },
		users => { app => 'app_pw' },
		settings => { pool_mode => 'transaction', server_connect_timeout => 1, query_wait_timeout => 2 },
	);
	$sl->expect_log(qr/ gone\/app\S+ pooler error: could not connect to server: Connection refused \(no server for 2 s\) \(sqlstate=08006\)/);
	my $cpu = sub { cpu_seconds($sl->pid) };
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $t0 = time();
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'gone', timeout => 20);
	my $took = time() - $t0;
	ok(!$r->{ok}, 'unreachable server: the client gets an error');
	like($r->{error}{C} // '', qr/^08/, 'unreachable server: SQLSTATE class 08') or diag(error_text($r->{error}));
	note('the client saw: ' . error_text($r->{error}));
	cmp_ok($took, '<', 8, sprintf('unreachable server: within 8 s (%.2f s)', $took));

	# clients keep coming for 3 s while sluice measures no CPU to speak of
	my $cpu0 = $cpu->();
	my $w0 = time();
	my ($n, $errors) = (0, 0);
	while (time() - $w0 < 3) {
		my $x = SluiceTest::Proto->connect(port => $sl->port);
		my $xr = $x->login(user => 'app', password => 'app_pw', database => 'gone', timeout => 10);
		$n++;
		$errors++ unless $xr->{ok};
		$x->close;
	}
	my $used = $cpu->() - $cpu0;
	my $window = time() - $w0;
	is($errors, $n, "unreachable server: all $n clients in the window got errors");
	cmp_ok($used, '<', 0.5, sprintf('unreachable server: sluice used %.2f s of CPU in %.1f s of waiting clients',
				       $used, $window));
	is($sl->safe_psql('SELECT 3', user => 'app', db => 'app'), 3, 'unreachable server: the other database is unaffected');
	$sl->stop;
}

# ---------------------------------------------------------------------------
# server_login_retry = 0 ("retry at once") against a refused port: retrying
# must still not turn into a busy loop.
{
	my $port = free_port();
	my $sl = SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app'), gone => "host=127.0.0.1 port=$port dbname=app" },
		users => { app => 'app_pw' },
		settings => { pool_mode => 'transaction', server_connect_timeout => 1, query_wait_timeout => 2,
			      server_login_retry => 0 },
	);
	$sl->expect_log(qr/ gone\/app\S+ pooler error: could not connect to server: Connection refused \(no server for 2 s\) \(sqlstate=08006\)/);
	my $cpu0 = cpu_seconds($sl->pid);
	my $lines0 = () = $sl->log_contents =~ /\n/g;
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $t0 = time();
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'gone', timeout => 20);
	my $took = time() - $t0;
	my $used = cpu_seconds($sl->pid) - $cpu0;
	my $lines = (() = $sl->log_contents =~ /\n/g) - $lines0;
	ok(!$r->{ok}, 'server_login_retry=0: the client gets an error');
	note('the client saw: ' . error_text($r->{error}));
	cmp_ok($took, '<', 8, sprintf('server_login_retry=0: within 8 s (%.2f s)', $took));
	cmp_ok($used, '<', 0.5, sprintf('server_login_retry=0: sluice used %.2f s of CPU during a %.1f s wait',
				       $used, $took));
	cmp_ok($lines, '<', 100, "server_login_retry=0: the log did not flood ($lines lines)");
	$sl->stop;
}

done_testing();
