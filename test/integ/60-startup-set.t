# Issue 17, part 1: a client's startup parameters are its session's reset
# values. psql scripts like those of PostgreSQL's regression suite (SET,
# SHOW, RESET x, RESET ALL, DISCARD ALL, SET LOCAL in a transaction) run by
# clients started with PGDATESTYLE, PGTZ, PGAPPNAME and PGOPTIONS, through
# sluice over
# a small shared pool and directly, must print the same.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;
use SluiceTest::Proto;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', 'CREATE SCHEMA s1 AUTHORIZATION app');
my %common = (pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' });

my $script = <<'SQL';
SHOW application_name;
SHOW datestyle; SHOW timezone; SHOW intervalstyle; SHOW search_path; SHOW extra_float_digits;
SELECT timestamptz '2001-02-03 04:05:06+00', interval '1 day 02:03:04', 0.1::float8;
SET datestyle = 'ISO, DMY'; SHOW datestyle; RESET datestyle; SHOW datestyle;
SET timezone = 'Asia/Tokyo'; RESET timezone; SHOW timezone;
SET search_path = public; RESET search_path; SHOW search_path;
BEGIN; SET LOCAL datestyle = 'SQL, DMY'; SHOW datestyle; COMMIT; SHOW datestyle;
SET datestyle = 'German'; SET intervalstyle = 'iso_8601'; SET extra_float_digits = 1;
RESET ALL; SHOW datestyle; SHOW timezone; SHOW intervalstyle; SHOW search_path; SHOW extra_float_digits;
SET datestyle = 'German'; SET timezone = 'UTC'; DISCARD ALL; SHOW datestyle; SHOW timezone;
SELECT timestamptz '2001-02-03 04:05:06+00';
SET application_name = 'changed'; RESET application_name; SHOW application_name;
SET application_name = 'changed'; RESET ALL; SHOW application_name;
SET application_name = 'changed'; SET application_name TO DEFAULT; SHOW application_name;
SET application_name = 'changed'; DISCARD ALL; SHOW application_name;
SQL

# Simple ones first: transaction mode keys servers only by what sluice
# tracks (the rest, search_path and -c of untracked names, is refused there).
my @clients = (
	{ PGDATESTYLE => 'Postgres, MDY', PGTZ => 'PST8PDT', PGAPPNAME => 'app_one' },
	{ PGTZ => 'UTC', PGOPTIONS => '-c search_path=s1,public -c extra_float_digits=0' },
	{},
	{ PGDATESTYLE => 'SQL, DMY', PGOPTIONS => '-c intervalstyle=sql_standard' },
	{ PGDATESTYLE => 'Postgres, MDY', PGTZ => 'PST8PDT', PGOPTIONS => '-c search_path=s1' },
);
my @tx_clients = (
	{ PGDATESTYLE => 'Postgres, MDY', PGTZ => 'PST8PDT', PGAPPNAME => 'app_two' },
	{ PGTZ => 'UTC' },
	{},
	{ PGDATESTYLE => 'SQL, DMY', PGOPTIONS => '-c intervalstyle=sql_standard' },
);

sub direct
{
	my ($env, $sql) = @_;
	my ($out, $err, $rc) = $pg->psql('app', $sql, user => 'app', password => 'app_pw', host => 'tcp',
					 env => $env, on_error_stop => 0);
	return "$out\n$err";
}

sub through
{
	my ($sl, $env, $sql) = @_;
	my ($out, $err, $rc) = $sl->psql($sql, user => 'app', password => 'app_pw', db => 'app',
					 env => $env, on_error_stop => 0);
	return "$out\n$err";
}

sub desc_env { my $e = shift; return join(' ', map { "$_=$e->{$_}" } sort keys %$e) || 'no env' }

sub show_startup
{
	my $sl = shift;
	my $admin = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
	my $r = $admin->login(user => 'app', password => 'app_pw', database => 'sluice', timeout => 10);
	my $res = $admin->query('SHOW STARTUP');
	$admin->terminate;
	my @cols = @{ $res->{columns} // [] };
	for my $row (@{ $res->{rows} // [] }) {
		my %h;
		@h{@cols} = @$row;
		return \%h if ($h{database} // '') eq 'app';
	}
	return {};
}

my %expect;
$expect{ desc_env($_) } = direct($_, $script) for @clients;

# ---- session mode, pool of 2 for 5 kinds of clients ----
my $sl = SluiceTest::Sluice->new(%common,
	settings => { pool_mode => 'session', default_pool_size => 2, admin_users => 'app' });

# one after another, twice round: each kind meets the servers of the others
for my $round (1, 2) {
	for my $env (@clients) {
		is(through($sl, $env, $script), $expect{ desc_env($env) },
		   "session, round $round, one at a time: same output as directly ($round, " . desc_env($env) . ')');
	}
}

# all at once, twice each: clients wait for the pool's two servers
my @kids;
my $dir = SluiceTest::new_tempdir();
for my $i (0 .. $#clients) {
	for my $j (1, 2) {
		my $pid = fork // die "fork: $!";
		if (!$pid) {
			SluiceTest::spit("$dir/$i.$j", through($sl, $clients[$i], $script));
			exit 0;
		}
		push @kids, $pid;
	}
}
waitpid($_, 0) for @kids;
for my $i (0 .. $#clients) {
	is(SluiceTest::slurp("$dir/$i.$_"), $expect{ desc_env($clients[$i]) },
	   "session, concurrent over a pool of 2: same output ($_, " . desc_env($clients[$i]) . ')') for 1, 2;
}
my $pools = show_startup($sl);
is($pools->{startup_mismatch}, 0, 'session mode: no client was linked to a server of other startup parameters');
$sl->stop;

# ---- transaction mode: the welcome reports PostgreSQL's spelling, and a
# pool too small for every kind still gives each its own values ----
my $tx = SluiceTest::Sluice->new(%common,
	settings => { pool_mode => 'transaction', default_pool_size => 2, admin_users => 'app' });
my $tx_script = <<'SQL';
SHOW datestyle; SHOW timezone; SHOW intervalstyle;
SELECT timestamptz '2001-02-03 04:05:06+00', interval '1 day 02:03:04';
BEGIN; SET LOCAL datestyle = 'SQL, DMY'; SHOW datestyle; COMMIT; SHOW datestyle;
SQL
for my $env (@tx_clients) {
	is(through($tx, $env, $tx_script), direct($env, $tx_script),
	   'transaction mode: same output as directly (' . desc_env($env) . ')');
}

# spelling: the welcome gives PostgreSQL's canonical values
{
	my $c = SluiceTest::Proto->connect(port => $tx->port, timeout => 10);
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app', timeout => 10,
			  params => { client_encoding => 'utf8', DateStyle => 'iso,dmy', TimeZone => 'utc' });
	ok($r->{ok}, 'a client with lower-case startup values logs in');
	my %ps = %{ $r->{params} // {} };
	is($ps{client_encoding}, 'UTF8', 'welcome: client_encoding as PostgreSQL spells it');
	is($ps{DateStyle}, 'ISO, DMY', 'welcome: DateStyle as PostgreSQL spells it');
	is($ps{TimeZone}, 'UTC', 'welcome: TimeZone as PostgreSQL spells it');
	is($c->query_value('SHOW DateStyle'), 'ISO, DMY', '... and SHOW agrees');
	$c->terminate;
}

# three kinds held open at once over two servers: one must share
my @held;
for my $ds ('Postgres, MDY', 'SQL, DMY', 'German, DMY') {
	my $c = SluiceTest::Proto->connect(port => $tx->port, timeout => 10);
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app', timeout => 10,
			  params => { DateStyle => $ds });
	ok($r->{ok}, "transaction-mode client with DateStyle $ds logs in");
	push @held, [ $c, $ds ];
}
for my $round (1 .. 3) {
	for my $h (@held) {
		is($h->[0]->query_value('SHOW DateStyle'), $h->[1], "round $round: DateStyle $h->[1] kept");
	}
}
$_->[0]->terminate for @held;
$pools = show_startup($tx);
cmp_ok($pools->{startup_mismatch}, '>', 0, 'SHOW STARTUP counts links to servers of other startup parameters');

# search_path is kept only in session mode: refused here, as before
$tx->expect_log(qr/unsupported startup parameter: options/);
my ($out, $err) = $tx->psql('SELECT 1', user => 'app', password => 'app_pw', db => 'app',
			    env => { PGOPTIONS => '-c search_path=s1' });
like($err, qr/unsupported startup parameter: options/, 'transaction mode refuses an untracked -c setting');
$tx->stop;

# ---- the welcome gives the session's own values, not what another client
# SET on the server it is linked to while it logs in (found by the
# differential tester: application_name leaked). Both log in before the
# pool's first server has: they wait for it, a (first) gets it and SETs its
# application_name there, gives it back, and b is linked to it next. ----
{
	my @dbs = map { "app$_" } 1 .. 6;
	my $one = SluiceTest::Sluice->new(%common, databases => { map { ($_ => $pg->connstr('app')) } @dbs },
					  settings => { pool_mode => 'transaction', default_pool_size => 1 });
	for my $db (@dbs) {
		my $pid = SluiceTest::spawn([ SluiceTest::Pg::bindir() . '/psql', '-X', '-q', '-c', 'SELECT pg_sleep(0.2)',
					      "host=127.0.0.1 port=@{[ $one->port ]} dbname=$db user=app "
					      . 'password=app_pw application_name=leaked' ]);
		select(undef, undef, undef, 0.03);
		my $b = $one->proto(user => 'app', password => 'app_pw', dbname => $db, login => 0);
		my $r = $b->login(user => 'app', password => 'app_pw', database => $db);
		ok($r->{ok}, "$db: a client without application_name logs in") or diag explain $r;
		is($r->{params}{application_name}, '', "$db: its welcome's application_name is its own (none)");
		is($b->query_value('SHOW application_name'), '', "$db: and so is SHOW application_name");
		$b->terminate;
		SluiceTest::wait_pid($pid, 20);
	}
	$one->stop;
}

# ---- bounds: at most 32 settings, 4096 bytes ----
my $b = SluiceTest::Sluice->new(%common, settings => { pool_mode => 'session', default_pool_size => 2 });
$b->expect_log(qr/too many startup parameters/, qr/startup parameters too long/);
# psql sends client_encoding and application_name besides: 2 + 30 is the bound
my %env = (PGCLIENTENCODING => 'UTF8', PGAPPNAME => 'bounds');
my $at = join(' ', map { "-c s.x$_=1" } 1 .. 31);
($out, $err) = $b->psql('SHOW s.x31', user => 'app', password => 'app_pw', db => 'app',
			env => { %env, PGOPTIONS => $at });
like($err, qr/too many startup parameters/, '31 -c settings, client_encoding and application_name: refused (33 > 32)');
$at = join(' ', map { "-c s.x$_=1" } 1 .. 30);
($out, $err) = $b->psql('SHOW s.x30', user => 'app', password => 'app_pw', db => 'app',
			env => { %env, PGOPTIONS => $at });
is($out, '1', '30 -c settings, client_encoding and application_name (32): accepted, and set') or diag($err);
($out, $err) = $b->psql('SELECT 1', user => 'app', password => 'app_pw', db => 'app',
			env => { PGOPTIONS => '-c s.long=' . ('x' x 4100) });
like($err, qr/startup parameters too long/, 'a setting over 4096 bytes is refused');
$b->stop;

done_testing();
