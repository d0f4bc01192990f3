# RELOAD (console) and SIGHUP re-read the configuration: pool sizes,
# timeouts, databases added, removed and changed, and auth_file take effect
# while clients stay connected; a bad file keeps the running configuration
# and says why, on the console and in the log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->create_db('other', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app', user => 'app', password => 'app_pw') },
	users => { app => 'app_pw', admin => 'admin_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
		      default_pool_size => 2 },
);

sub console { $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer') }
sub app     { my $db = shift // 'app'; $sl->proto(user => 'app', password => 'app_pw', dbname => $db) }
sub show
{
	my ($c, $what) = @_;
	my $r = $c->query("SHOW $what");
	return [ map { my $row = $_; +{ map { ($r->{columns}[$_] => $row->[$_]) } 0 .. $#$row } } @{ $r->{rows} } ];
}
sub config_value { my ($c, $k) = @_; my ($row) = grep { $_->{key} eq $k } @{ show($c, 'CONFIG') }; $row->{value} }

my $adm = console();

# ---- RELOAD from the console, with clients in the middle of work ----
my $a = app();
is($a->query('BEGIN')->{status}, 'T', 'a client is inside a transaction');
$a->query('CREATE TEMP TABLE t (x int) ON COMMIT DROP');
my $idle = app();
my $before = SluiceTest::Proto->connect(port => $sl->port)->login(user => 'newbie', password => 'newbie_pw', database => 'app');
ok(!$before->{ok}, 'a user not yet in auth_file cannot log in');
$sl->expect_log(qr/ app\/newbie\S+ pooler error: password authentication failed for user "newbie" \(sqlstate=28P01\)/);
is($idle->query_value('SELECT 1'), 1, 'another client is logged in and idle');

$sl->{settings}{default_pool_size} = 4;
$sl->{settings}{query_wait_timeout} = 77;
$sl->{databases}{app2} = $pg->connstr('other', user => 'app', password => 'app_pw');
$sl->{users}{newbie} = 'newbie_pw';
$pg->create_role('newbie', 'newbie_pw');
$sl->write_config;
is_deeply($adm->query('RELOAD')->{tags}, ['RELOAD'], 'RELOAD answers RELOAD');

is($a->query('INSERT INTO t VALUES (1)')->{status}, 'T', 'the transaction goes on across the reload');
is($a->query_value('SELECT count(*) FROM t'), 1, '... with its state');
is($a->query('COMMIT')->{status}, 'I', '... and commits');
is($idle->query_value('SELECT 2'), 2, 'the idle client was not dropped');
is(config_value($adm, 'default_pool_size'), 4, 'new default_pool_size in SHOW CONFIG');
is(config_value($adm, 'query_wait_timeout'), 77, 'new query_wait_timeout');
my $b = app('app2');
is($b->query_value('SELECT current_database()'), 'other', 'a database added to [databases] is served');
my $n = $sl->proto(user => 'newbie', password => 'newbie_pw', dbname => 'app');
is($n->query_value('SELECT 1'), 1, 'a user added to auth_file logs in');
$n->terminate;

# the bigger pool is used: four transactions at once get four servers
my @c = map { app() } 1 .. 4;
$_->query('BEGIN'), $_->query('SELECT 1') for @c;
my ($db) = grep { $_->{name} eq 'app' } @{ show($adm, 'DATABASES') };
is($db->{pool_size}, 4, 'SHOW DATABASES: pool_size 4');
my ($pool) = grep { $_->{database} eq 'app' && $_->{user} eq 'app' } @{ show($adm, 'POOLS') };
is($pool->{sv_active}, 4, 'four transactions at once hold four servers');
$_->query('COMMIT'), $_->terminate for @c;

# ---- SIGHUP: a database changed and one removed ----
$sl->{databases}{app} = $pg->connstr('other', user => 'app', password => 'app_pw');
delete $sl->{databases}{app2};
$sl->reload;   # writes the file, sends SIGHUP
ok(SluiceTest::wait_for(sub { $sl->log_contents =~ /configuration reloaded.*\n(?s:.*)configuration reloaded/ },
			timeout => 10), 'SIGHUP reloads (logged)');
is($idle->query_value('SELECT current_database()'), 'other',
   'a changed [databases] entry: the same client now reaches the new database');
my $r = SluiceTest::Proto->connect(port => $sl->port)->login(user => 'app', password => 'app_pw', database => 'app2');
is($r->{error}{C}, '3D000', 'a removed database: new logins are refused');
$sl->expect_log(qr/ app2\/app\S+ pooler error: database "app2" does not exist \(sqlstate=3D000\)/);
is($b->query_value('SELECT 3'), 3, '... while its client already in goes on');

# ---- a bad file keeps the running configuration ----
$sl->{extra} = "default_pool_size = lots\n";
# the two refused reloads below (console RELOAD, SIGHUP), and the last one
my $ini = $sl->config_path;
my $refused = qr/reload (?:refused|failed), the running configuration stays: \Q$ini\E/;
$sl->expect_log(qr/ERROR $refused:\d+: default_pool_size: "lots" is not an integer$/,
		qr/ pgbouncer\/admin\S+ pooler error: $refused:\d+: default_pool_size: "lots" is not an integer \(sqlstate=22023\)/,
		qr/ERROR $refused: unix_socket_dir: cannot be changed by a reload, restart sluice$/,
		qr/ pgbouncer\/admin\S+ pooler error: $refused: unix_socket_dir: cannot be changed by a reload, restart sluice \(sqlstate=22023\)/);
$sl->write_config;
my $bad = $adm->query('RELOAD');
is($bad->{errors}[0]{C}, '22023', 'RELOAD of a bad file: an error');
like($bad->{errors}[0]{M}, qr/sluice\.ini:\d+: default_pool_size: "lots" is not an integer/,
     '... naming file, line and key');
is(config_value($adm, 'default_pool_size'), 4, 'the running configuration stays');
is($idle->query_value('SELECT 4'), 4, 'clients go on');
like($sl->log_contents, qr/reload refused, the running configuration stays: .*default_pool_size/,
     'the log says why');
kill 'HUP', $sl->pid;
ok(SluiceTest::wait_for(sub { (() = $sl->log_contents =~ /reload refused/g) >= 2 },
			timeout => 10), 'SIGHUP with a bad file: refused and logged too');
ok($sl->alive, 'sluice is still running');

# a key only a restart may change
$sl->{extra} = '';
$sl->{settings}{unix_socket_dir} = '';
$sl->write_config;
like($adm->query('RELOAD')->{errors}[0]{M}, qr/unix_socket_dir: cannot be changed by a reload, restart/,
     'changing a restart-only key: the reload is refused, naming the key');
is($idle->query_value('SELECT 5'), 5, 'and clients go on');

$adm->terminate;
$_->terminate for $idle, $b;

done_testing();
