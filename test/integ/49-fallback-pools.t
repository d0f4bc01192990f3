# Pools of the `*` fallback (issue 14, item 12). With auth_user set, a
# stranger naming made-up databases must leave nothing behind: the lookup's
# pool (sluice's own, internal) goes as soon as its last client and server
# have, PostgreSQL's 3D000 reaches the client, /health stays 200 (internal
# pools do not count there) and /metrics does not grow per name. A pool a
# client did authenticate for is freed once it has had no client and no
# server for autodb_idle_timeout (PgBouncer's key), and comes back on the
# next login. The console's names, sluice and pgbouncer, stay the console's
# even with `*`.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use Time::HiRes qw(time);
use Test::More;
use SluiceTest qw(free_port run_cmd wait_for);
use SluiceTest::Proto qw(error_text);

my $STRANGERS = 300;

my $pg = SluiceTest::Pg->new;
$pg->append_conf("log_line_prefix = 'db=%d '");
$pg->restart;
$pg->create_role('authq', 'authq_pw', superuser => 1);
$pg->create_role('looked', 'look_pw');
$pg->create_role('app', 'app_pw');   # so that only typo_db's database is missing below
$pg->create_db('app', 'looked');

my $mport = free_port();
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { '*' => 'host=127.0.0.1 port=' . $pg->port },
	users => { authq => 'authq_pw', admin => 'admin_pw', app => 'app_pw' },
	settings => { auth_type => 'scram-sha-256', auth_user => 'authq', admin_users => 'admin',
		      server_tls_sslmode => 'disable', metrics_listen => "127.0.0.1:$mport",
		      autodb_idle_timeout => 1, server_idle_timeout => 1 },
	wait_login => 0,
);

my $http = HTTP::Tiny->new(timeout => 10);
sub get { return $http->get("http://127.0.0.1:$mport$_[0]") }

# A console command as admin through database $db; rows as [columns...].
sub console
{
	my ($cmd, $db) = @_;
	my ($out, $err, $rc) = $sl->psql($cmd, db => $db // 'sluice', user => 'admin', password => 'admin_pw',
					 timeout => 20);
	return { rc => $rc, err => $err, rows => [ map { [ split /\|/, $_, -1 ] } grep { length } split /\n/, $out ] };
}

sub pool_count
{
	my $r = console('SHOW LISTS');
	return undef if $r->{rc} != 0;
	my ($row) = grep { $_->[0] eq 'pools' } @{ $r->{rows} };
	return $row ? $row->[1] : undef;
}

sub client_pools
{
	my $r = console('SHOW POOLS');
	return $r->{rc} == 0 ? [ map { "$_->[0]/$_->[1]" } @{ $r->{rows} } ] : undef;
}

sub login
{
	my ($user, $password, $db) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
	my $r = $c->login(user => $user, password => $password, database => $db, timeout => 10);
	return ($c, $r);
}

# ---- the console's names are the console's, even with `*` ----

for my $db ('pgbouncer', 'sluice') {
	my $r = console('SHOW VERSION', $db);
	is($r->{rc}, 0, "database \"$db\" reaches the console with `*` configured") or diag($r->{err});
	like($r->{rows}[0][0] // '', qr/^sluice /, "... and answers as the console ($db)");
}
$sl->expect_log(qr/ pgbouncer\/app\S+ pooler error: user "app" is not allowed to use the admin console \(sqlstate=28000\)/);
my ($cc, $cr) = login('app', 'app_pw', 'pgbouncer');
ok(!$cr->{ok}, 'a user not in admin_users is refused by the console, not sent to PostgreSQL');
like(error_text($cr->{error}), qr/not allowed to use the admin console/, '... with the console\'s own refusal');
$cc->close;
unlike($pg->log_contents, qr/^db=(?:pgbouncer|sluice) /m,
       'PostgreSQL never saw a login to the console\'s names');

# ---- strangers with made-up database names ----

my $m0 = get('/metrics');
is($m0->{status}, 200, '/metrics answers');
my $pools0 = pool_count();
is($pools0, 0, 'no pool before any client logged in');

my $t0 = time();
my ($refused, $dne) = (0, 0);
# each stranger's made-up database: the lookup's server login fails, then the client's
$sl->expect_log(qr/ S-\d+ (madeup_\d+)\/authq\S+ login failed: database "\1" does not exist$/,
		qr/ C-\d+ (madeup_\d+)\/stranger\d+\S+ pooler error: database "\1" does not exist \(sqlstate=3D000\)/);
for my $i (1 .. $STRANGERS) {
	my ($c, $r) = login("stranger$i", 'guess', "madeup_$i");
	$refused++ unless $r->{ok};
	$dne++ if ($r->{error}{C} // '') eq '3D000'
	    && ($r->{error}{M} // '') eq "database \"madeup_$i\" does not exist";
	$c->close;
}
my $took = time() - $t0;
is($refused, $STRANGERS, "$STRANGERS logins naming made-up databases are all refused");
is($dne, $STRANGERS, '... each with PostgreSQL\'s answer: 3D000 database "..." does not exist');
diag(sprintf('%d stranger logins took %.2f s', $STRANGERS, $took));

my $pools;
ok(wait_for(sub { $pools = pool_count(); defined $pools && $pools == 0 }, timeout => 10),
   'they leave no pool behind (SHOW LISTS)') or diag("pools: " . ($pools // 'console unreachable'));
my $m1 = get('/metrics');
my $grew = length($m1->{content}) - length($m0->{content});
cmp_ok($grew, '<', 2048, '/metrics does not grow per made-up name')
    or diag("grew by $grew bytes to " . length($m1->{content}));
diag("/metrics: " . length($m0->{content}) . " bytes before, " . length($m1->{content}) . " after");
my $named = () = $m1->{content} =~ /madeup_/g;
is($named, 0, '... and names none of them');
my $h = get('/health');
is($h->{status}, 200, '/health stays 200') or diag($h->{content});
# PostgreSQL logs one FATAL (3D000) per attempt, prefixed with its database
my $attempts = () = $pg->log_contents =~ /^db=madeup_\d+ FATAL: /mg;
is($attempts, $STRANGERS, 'PostgreSQL saw one connection attempt per stranger login (the lookup), no retries');

# ---- a real pool of the fallback: freed when idle, back on the next login ----

my ($c, $r) = login('looked', 'look_pw', 'app');
ok($r->{ok}, 'an authenticated client makes its fallback pool') or diag(error_text($r->{error}));
is($c->query_value('SELECT current_user'), 'looked', '... and reaches PostgreSQL');
is_deeply(client_pools(), ['app/looked'], 'SHOW POOLS lists it');
$c->terminate;
$t0 = time();
ok(wait_for(sub { my $p = client_pools(); $p && !@$p && pool_count() == 0 }, timeout => 15),
   'with no client and no server for autodb_idle_timeout (1 s), the pool is freed');
my $gone = time() - $t0;
diag(sprintf('pool freed %.2f s after its client left (server_idle_timeout 1 s + autodb_idle_timeout 1 s)', $gone));
cmp_ok($gone, '>=', 1, '... not before the timeouts');
($c, $r) = login('looked', 'look_pw', 'app');
ok($r->{ok}, 'the next login makes it again') or diag(error_text($r->{error}));
is($c->query_value('SELECT 1'), '1', '... and it serves');
is_deeply(client_pools(), ['app/looked'], 'SHOW POOLS lists it again');
$c->terminate;

# autodb_idle_timeout is taken at a reload, for pools already unused too.
sub config_value
{
	my ($key) = @_;
	my ($row) = grep { $_->[0] eq $key } @{ console('SHOW CONFIG')->{rows} };
	return $row ? $row->[1] : undef;
}
sub reloaded { my $n = () = $sl->log_contents =~ /configuration reloaded/g; return $n }
my $reloads = reloaded();
$sl->{settings}{autodb_idle_timeout} = 3600;
$sl->reload;
ok(wait_for(sub { reloaded() > $reloads }, timeout => 10), 'reload with autodb_idle_timeout = 3600');
is(config_value('autodb_idle_timeout'), '3600', 'SHOW CONFIG shows it');
($c, $r) = login('looked', 'look_pw', 'app');
ok($r->{ok}, 'a login makes the pool again') or diag(error_text($r->{error}));
$c->terminate;
sub servers { my $r = console('SHOW SERVERS'); return $r->{rc} == 0 ? scalar @{ $r->{rows} } : -1 }
ok(wait_for(sub { servers() == 0 }, timeout => 10), 'its server closes after server_idle_timeout');
is_deeply(client_pools(), ['app/looked'], '... and the unused pool stays (autodb_idle_timeout 3600 s)');
$reloads = reloaded();
$sl->{settings}{autodb_idle_timeout} = 1;
$sl->reload;
ok(wait_for(sub { reloaded() > $reloads }, timeout => 10), 'reload with autodb_idle_timeout = 1');
ok(wait_for(sub { my $p = client_pools(); $p && !@$p }, timeout => 10),
   '... frees the pool unused for longer than that');

# A client who did authenticate but names a database PostgreSQL does not
# have: its pool goes at once, and /health does not turn 503 for it.
$sl->expect_log(qr/ S-\d+ typo_db\/app\S+ login failed: database "typo_db" does not exist$/,
		qr/ C-\d+ typo_db\/app\S+ pooler error: database "typo_db" does not exist \(sqlstate=3D000\)/);
($c, $r) = login('app', 'app_pw', 'typo_db');
ok(!$r->{ok}, 'an authenticated login to a missing database fails');
ok(wait_for(sub { my $p = client_pools(); $p && !@$p && pool_count() == 0 }, timeout => 10),
   '... and leaves no pool');
$c->close;
$h = get('/health');
is($h->{status}, 200, '/health is 200 at the end') or diag($h->{content});

done_testing();
