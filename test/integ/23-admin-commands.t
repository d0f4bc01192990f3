# The console commands that act: PAUSE, RESUME, RECONNECT, WAIT_CLOSE,
# KILL, DISABLE, ENABLE, SET, with PgBouncer's meanings; SHOW CLIENTS;
# errors that leave the console usable; SHOW-only rights of stats_users.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app', user => 'app', password => 'app_pw') },
	users => { app => 'app_pw', admin => 'admin_pw', watcher => 'watch_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', stats_users => 'watcher',
		      pool_mode => 'transaction', default_pool_size => 2, query_wait_timeout => 30 },
);

sub console { $sl->proto(user => $_[0] // 'admin', password => $_[1] // 'admin_pw', dbname => 'pgbouncer') }
sub app     { $sl->proto(user => 'app', password => 'app_pw', dbname => 'app', @_) }
sub err_of  { my ($r) = @_; return @{ $r->{errors} } ? "$r->{errors}[0]{C} $r->{errors}[0]{M}" : '' }
# rows of a SHOW as hashes by column name
sub show
{
	my ($c, $what) = @_;
	my $r = $c->query("SHOW $what");
	return [ map { my $row = $_; +{ map { ($r->{columns}[$_] => $row->[$_]) } 0 .. $#$row } } @{ $r->{rows} } ];
}
sub send_query { my ($c, $sql) = @_; $c->send(SluiceTest::Proto::msg('Q', "$sql\0")) }
# The console errors a section causes on purpose, each logged as a pooler
# error: declared for the end-of-file log check.
sub console_errors
{
	$sl->expect_log(map { qr/ pgbouncer\/(?:admin|watcher)\S+ pooler error: \Q$_\E \(sqlstate=\w{5}\)/ } @_);
}

my $adm = console();

# ---- SHOW CLIENTS ----
{
	my $c = app(params => { application_name => 'show-clients-test' });
	my ($row) = grep { ($_->{application_name} // '') eq 'show-clients-test' } @{ show($adm, 'CLIENTS') };
	ok($row, 'SHOW CLIENTS lists a connected client with its application_name');
	is($row->{user}, 'app', '... its user');
	is($row->{database}, 'app', '... its database');
	is($row->{state}, 'active', '... logged in: active');
	is($row->{addr}, '127.0.0.1', '... its address');
	ok($row->{port} > 0 && $row->{local_port} == $sl->port, '... its port and our local port');
	like($row->{connect_time}, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, '... connect_time as a timestamp');
	like($row->{ptr}, qr/^C-\d+$/, '... and an id');
	my ($me) = grep { $_->{database} eq 'pgbouncer' } @{ show($adm, 'CLIENTS') };
	ok($me, 'the console itself is listed too');
	$c->terminate;
}

# ---- rights and errors ----
{
	console_errors('PAUSE needs an admin user (admin_users); stats_users may only SHOW',
		       'no such database: nosuchdb', 'database app is not paused', 'KILL takes a database name',
		       'RELOAD takes no argument',
		       'SHUTDOWN takes no argument, WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS, not SOON');
	my $w = console('watcher', 'watch_pw');
	my $r = $w->query('PAUSE app');
	is($r->{errors}[0]{C}, '42501', 'stats_users may not PAUSE');
	ok(@{ show($w, 'POOLS') } >= 1, '... but may still SHOW on the same connection');
	$w->terminate;

	is($adm->query('PAUSE nosuchdb')->{errors}[0]{C}, '3D000', 'PAUSE of an unknown database: an error');
	is($adm->query('RESUME app')->{errors}[0]{C}, '55000', 'RESUME of a database that is not paused: an error');
	like(err_of($adm->query('KILL')), qr/takes a database name/, 'KILL without a database: an error');
	like(err_of($adm->query('RELOAD now')), qr/takes no argument/, 'RELOAD with an argument: an error');
	like(err_of($adm->query('SHUTDOWN SOON')), qr/WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS/, 'SHUTDOWN with a bad mode: an error');
	is($adm->query('SHOW VERSION')->{status}, 'I', 'the console is still usable');
}

# ---- PAUSE waits for the transaction in flight; new work waits for RESUME ----
{
	my $a = app();
	is($a->query('BEGIN')->{status}, 'T', 'a client opens a transaction');
	$a->query('SELECT 1');
	send_query($adm, 'PAUSE app');
	my $early = $adm->read_results(0.5);
	is($early->{lost}, 'timed out', 'PAUSE does not return while a transaction runs');

	my $b = app();
	send_query($b, 'SELECT 42');
	is($b->read_results(0.3)->{lost}, 'timed out', 'a new query waits while the database is pausing');

	is($a->query('SELECT 2')->{rows}[0][0], 2, 'the transaction in flight goes on');
	is($a->query('COMMIT')->{status}, 'I', '... and commits');
	my $p = $adm->read_results(10);
	is_deeply($p->{tags}, ['PAUSE'], 'PAUSE returns once the transaction ended') or diag explain $p;
	my ($db) = grep { $_->{name} eq 'app' } @{ show($adm, 'DATABASES') };
	is($db->{paused}, 1, 'SHOW DATABASES: paused = 1');
	ok($db->{current_connections} >= 1, '... its server connections stay open, idle (the gate holds work, not servers)');
	is($b->read_results(0.3)->{lost}, 'timed out', 'the waiting query still waits after PAUSE');
	is_deeply($adm->query('RESUME app')->{tags}, ['RESUME'], 'RESUME app');
	is($b->read_results(10)->{rows}[0][0], 42, 'the waiting query runs after RESUME, without error');
	is($a->query('SELECT 3')->{rows}[0][0], 3, 'other clients work again');
	$a->terminate;
	$b->terminate;
}

# ---- PAUSE of everything, RESUME of everything ----
{
	console_errors('already paused', 'every database is paused: RESUME without a name resumes them');
	is_deeply($adm->query('PAUSE')->{tags}, ['PAUSE'], 'PAUSE without a database (nothing in flight) returns');
	is($adm->query('PAUSE')->{errors}[0]{C}, '55000', 'a second PAUSE: already paused');
	my $b = app();
	send_query($b, 'SELECT 7');
	is($b->read_results(0.3)->{lost}, 'timed out', 'queries wait while everything is paused');
	like(err_of($adm->query('RESUME app')), qr/RESUME without a name/, 'RESUME db under a global PAUSE: an error');
	is_deeply($adm->query('RESUME')->{tags}, ['RESUME'], 'RESUME');
	is($b->read_results(10)->{rows}[0][0], 7, 'the query runs');
	$b->terminate;
}

# ---- RESUME from another console ends a PAUSE still waiting ----
{
	console_errors('PAUSE was cancelled: the gate reopened');
	my $a = app();
	$a->query('BEGIN');
	$a->query('SELECT 1');
	send_query($adm, 'PAUSE app');
	is($adm->read_results(0.3)->{lost}, 'timed out', 'PAUSE waits for the open transaction');
	my $adm2 = console();
	is_deeply($adm2->query('RESUME app')->{tags}, ['RESUME'], 'a second console RESUMEs');
	my $r = $adm->read_results(10);
	is($r->{errors}[0]{C}, '57014', 'the waiting PAUSE ends with an error') or diag explain $r;
	is($a->query('COMMIT')->{status}, 'I', 'the transaction is not affected');
	is($a->query('SELECT 5')->{rows}[0][0], 5, 'and the database is open');
	is($adm->query('SHOW VERSION')->{status}, 'I', 'the first console is usable again');
	$a->terminate;
	$adm2->terminate;
}

# ---- RECONNECT and WAIT_CLOSE ----
{
	my $a = app();
	my $pid1 = $a->query_value('SELECT pg_backend_pid()');
	$a->query('BEGIN');
	is($a->query_value('SELECT pg_backend_pid()'), $pid1, 'the server in use');
	is_deeply($adm->query('RECONNECT app')->{tags}, ['RECONNECT'], 'RECONNECT returns at once');
	my ($srv) = grep { $_->{remote_pid} == $pid1 } @{ show($adm, 'SERVERS') };
	is($srv->{close_needed}, 1, 'SHOW SERVERS: the server in use is marked close_needed');
	send_query($adm, 'WAIT_CLOSE app');
	is($adm->read_results(0.3)->{lost}, 'timed out', 'WAIT_CLOSE waits for it');
	is($a->query('COMMIT')->{status}, 'I', 'the transaction commits on its old server');
	is_deeply($adm->read_results(10)->{tags}, ['WAIT_CLOSE'], 'then WAIT_CLOSE returns');
	my $pid2 = $a->query_value('SELECT pg_backend_pid()');
	isnt($pid2, $pid1, 'the next transaction runs on a new server connection');
	ok(SluiceTest::wait_for(sub {
		$pg->safe_psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid1") eq '0' }, timeout => 10),
	   'the old server connection is gone from PostgreSQL');
	$a->terminate;
}

# ---- KILL, then RESUME ----
{
	$sl->expect_log(qr/ app\/app\S+ pooler error: database "app" was killed from the admin console \(sqlstate=57P01\)/);
	my $a = app();
	$a->query('SELECT 1');
	is_deeply($adm->query('KILL app')->{tags}, ['KILL'], 'KILL app');
	my $r = $a->read_results(5);
	is($r->{errors}[0]{C}, '57P01', 'its client gets a FATAL admin_shutdown error');
	like($r->{errors}[0]{M}, qr/killed/, '... saying the database was killed');
	my $b = app();
	send_query($b, 'SELECT 8');
	is($b->read_results(0.3)->{lost}, 'timed out', 'a new client of a killed database waits');
	is_deeply($adm->query('RESUME app')->{tags}, ['RESUME'], 'RESUME after KILL');
	is($b->read_results(10)->{rows}[0][0], 8, 'and it goes on');
	$b->terminate;
}

# ---- DISABLE, ENABLE ----
{
	$sl->expect_log(qr/ app\/app\S+ pooler error: database "app" is not currently accepting connections \(sqlstate=55000\)/);
	my $a = app();
	is_deeply($adm->query('DISABLE app')->{tags}, ['DISABLE'], 'DISABLE app');
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $l = $c->login(user => 'app', password => 'app_pw', database => 'app');
	ok(!$l->{ok}, 'a new login is refused');
	is($l->{error}{C}, '55000', '... with SQLSTATE 55000');
	is($a->query_value('SELECT 9'), 9, 'a client already in goes on');
	my ($db) = grep { $_->{name} eq 'app' } @{ show($adm, 'DATABASES') };
	is($db->{disabled}, 1, 'SHOW DATABASES: disabled = 1');
	is_deeply($adm->query('ENABLE app')->{tags}, ['ENABLE'], 'ENABLE app');
	my $d = app();
	is($d->query_value('SELECT 10'), 10, 'logins work again');
	$a->terminate;
	$d->terminate;
}

# ---- SET ----
{
	console_errors('default_pool_size: "zero" is not an integer', 'unknown configuration key: no_such_key',
		       'listen_port cannot be changed with SET: it needs a restart',
		       'auth_file cannot be changed with SET: edit the configuration file, then RELOAD',
		       'usage: SET key = value');
	my %cfg = map { $_->{key} => $_->{value} } @{ show($adm, 'CONFIG') };
	is($cfg{default_pool_size}, 2, 'default_pool_size before SET');
	is_deeply($adm->query('SET default_pool_size = 3')->{tags}, ['SET'], 'SET default_pool_size = 3');
	is_deeply($adm->query("set query_wait_timeout='45s';")->{tags}, ['SET'], 'SET with a quoted value and unit');
	%cfg = map { $_->{key} => $_->{value} } @{ show($adm, 'CONFIG') };
	is($cfg{default_pool_size}, 3, 'SHOW CONFIG shows the new value');
	is($cfg{query_wait_timeout}, 45, '... and the other');
	# three clients in transactions at once need three servers now
	my @c = map { app() } 1 .. 3;
	$_->query('BEGIN'), $_->query('SELECT 1') for @c;
	my ($p3) = grep { $_->{database} eq 'app' && $_->{user} eq 'app' } @{ show($adm, 'POOLS') };
	is($p3->{sv_active}, 3, 'the pool grew to the new size');
	$_->query('COMMIT'), $_->terminate for @c;
	is($adm->query('SET default_pool_size = zero')->{errors}[0]{C}, '22023', 'a bad value: an error');
	is($adm->query('SET no_such_key = 1')->{errors}[0]{C}, '42704', 'an unknown key: an error');
	like(err_of($adm->query('SET listen_port = 7000')), qr/restart/, 'a key that needs a restart: an error');
	like(err_of($adm->query('SET auth_file = /tmp/x')), qr/RELOAD/, 'a file key: edit and RELOAD');
	like(err_of($adm->query('SET default_pool_size 4')), qr/usage/, 'SET without =: an error');
	is($adm->query('SHOW VERSION')->{status}, 'I', 'the console is still usable');
}

# ---- numbers: TIMEOUT and WINDOW take finite ones; nothing else runs ----
{
	# the gate of app is open, or made so (after a wrong PAUSE)
	my $reopen = sub { $adm->query('RESUME') if grep { $_->{name} eq 'app' && $_->{paused} } @{ show($adm, 'DATABASES') } };
	for my $v ('nan', 'NaN', 'inf', '-Infinity', '1e999', '-1', '1x', '0x', '+') {
		console_errors(qq{PAUSE app: TIMEOUT takes a finite number of seconds, 0 or more, not "$v"});
		my $r = $adm->query("PAUSE app TIMEOUT $v");
		is(err_of($r) =~ s/ .*//r, '42601', "PAUSE app TIMEOUT $v: a syntax error") or diag explain $r;
		like(err_of($r), qr/TIMEOUT takes a finite number of seconds/, '... saying what TIMEOUT takes') if $v eq 'nan';
		$reopen->();
	}
	for my $v ('nan', '1.5', '-1', '1e3', 'inf') {
		console_errors(qq{RESUME app: WINDOW takes a window number, not "$v"});
		is(err_of($adm->query("RESUME app WINDOW $v")) =~ s/ .*//r, '42601', "RESUME app WINDOW $v: a syntax error");
	}
	is_deeply($adm->query('PAUSE app TIMEOUT 0')->{tags}, ['PAUSE'], 'PAUSE app TIMEOUT 0 (no deadline) still works');
	is_deeply($adm->query('PAUSE app TIMEOUT 2.5')->{tags}, ['PAUSE'], '... and joins with TIMEOUT 2.5');
	is_deeply($adm->query('RESUME app')->{tags}, ['RESUME'], 'RESUME app');
}

# ---- a console command is run whole or not at all ----
{
	console_errors('console command too long: 5008 bytes, at most 4095', 'not paused');
	my $r = $adm->query('PAUSE' . (' ' x 300) . 'app');
	is_deeply($r->{tags}, ['PAUSE'], 'a 308-byte command runs (nothing cut at 255 bytes)') or diag explain $r;
	$r = $adm->query('RESUME app');
	is_deeply($r->{tags}, ['RESUME'], '... it paused app, not every database (RESUME app ends it)') or diag explain $r;
	$adm->query('RESUME') if @{ $r->{errors} };

	$r = $adm->query('PAUSE' . (' ' x 5000) . 'app');
	is(err_of($r) =~ s/ .*//r, '54000', 'a command of 5008 bytes: refused whole (54000)') or diag explain $r;
	like(err_of($r), qr/too long: 5008 bytes, at most 4095/, '... saying how long it is and may be');
	my $rr = $adm->query('RESUME');
	is($rr->{errors}[0]{C}, '55000', '... and nothing ran (RESUME: not paused)');
	my $long = 'x' x 3000;
	is_deeply($adm->query("SET admin_users = 'admin,$long'")->{tags}, ['SET'], 'SET with a 3000-byte value');
	my ($v) = map { $_->{value} } grep { $_->{key} eq 'admin_users' } @{ show($adm, 'CONFIG') };
	is($v, "admin,$long", '... is kept whole');
	$adm->query("SET admin_users = 'admin'");
	is($adm->query('SHOW VERSION')->{status}, 'I', 'the console is still usable');
}

$adm->terminate;

done_testing();
