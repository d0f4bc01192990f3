# Session mode: state lives for the client's session and is gone for the
# next client that gets the same server connection (pool size 1, so the
# reuse is certain and proved by pg_backend_pid()).
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
	databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw' },
	settings => { pool_mode => 'session', default_pool_size => 1 },
);

my $default_work_mem = $pg->safe_psql('app', 'SHOW work_mem');

# Every client logs in with psql's application_name: session mode opens a
# server with its client's startup parameters (so that RESET ALL goes back
# to them) and gives a client only a server of its own parameters.
my %as_psql = (params => { application_name => 'psql' });

# --- client 1 sets up session state
my $c1 = $sl->proto(%as_psql);
my $pid1 = $c1->query_value('SELECT pg_backend_pid()');
like($pid1, qr/^\d+$/, 'client 1 has a server backend');
my @setup = (
	q{SET work_mem = '7MB'},
	q{SET application_name = 'client-one'},
	q{CREATE TEMP TABLE tt (v int)},
	q{INSERT INTO tt VALUES (1), (2)},
	q{PREPARE stmt AS SELECT 41 + 1},
	q{SELECT pg_advisory_lock(4242)},
	q{LISTEN chan},
	q{SELECT set_config('my.var', 'secret', false)},
);
for my $sql (@setup) {
	my $r = $c1->query($sql);
	ok(!@{ $r->{errors} } && !$r->{lost}, "client 1: $sql")
	    or diag(SluiceTest::Proto::error_text($r->{errors}[0]) . ($r->{lost} // ''));
}

# ... and it persists within the session, across transactions
is($c1->query_value('SHOW work_mem'), '7MB', 'client 1: SET persists');
is($c1->query_value('SELECT count(*) FROM tt'), '2', 'client 1: temp table persists');
$c1->query('BEGIN');
$c1->query('INSERT INTO tt VALUES (3)');
$c1->query('COMMIT');
is($c1->query_value('SELECT count(*) FROM tt'), '3', 'client 1: temp table persists across transactions');
is($c1->query_value('EXECUTE stmt'), '42', 'client 1: prepared statement persists');
is($c1->query_value(q{SELECT current_setting('my.var')}), 'secret', 'client 1: custom setting persists');
is($c1->query_value('SELECT pg_backend_pid()'), $pid1, 'client 1: same backend throughout the session');

# a second client waits while client 1 holds the only server connection
my $c2 = SluiceTest::Proto->connect(port => $sl->port);
my $login2 = $c2->login(user => 'app', password => 'app_pw', database => 'app', %as_psql);
ok($login2->{ok}, 'client 2 logs in while client 1 holds the server connection')
    or diag(SluiceTest::Proto::error_text($login2->{error}));
$c2->send(SluiceTest::Proto::msg('Q', "SELECT pg_backend_pid()\0"));
my ($type) = $c2->read_msg(0.3);
ok(!defined $type && !$c2->{eof}, 'client 2 gets no answer while client 1 holds the connection');

# --- client 1 leaves; client 2 gets the same backend with none of that state
$c1->terminate;
my $r = $c2->read_results(30);
ok(!$r->{lost}, 'client 2 is served once client 1 has left') or diag($r->{lost});
is($r->{rows}[0][0], $pid1, 'client 2 got the same server backend (reuse is proved)');
is($c2->query_value('SHOW work_mem'), $default_work_mem, 'client 2: work_mem is back to the default');
isnt($c2->query_value('SHOW application_name'), 'client-one', 'client 2: application_name is not client 1\'s');
is($c2->query_value(q{SELECT to_regclass('pg_temp.tt') IS NULL}), 't', 'client 2: the temp table is gone');
is($c2->query_value(q{SELECT count(*) FROM pg_prepared_statements}), '0', 'client 2: no prepared statements');
is($c2->query_value(q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()}),
   '0', 'client 2: the advisory lock was released');
is($c2->query_value(q{SELECT count(*) FROM pg_listening_channels()}), '0', 'client 2: not listening');
is($c2->query_value(q{SELECT coalesce(current_setting('my.var', true), '')}), '', 'client 2: custom setting is gone');
$r = $c2->query('EXECUTE stmt');
is($r->{errors}[0]{C}, '26000', 'client 2: EXECUTE of client 1\'s statement fails (26000)');

# client 2 sets state of its own; a psql client after it sees none either
$c2->query(q{SET work_mem = '9MB'});
$c2->terminate;
is($sl->safe_psql('SELECT pg_backend_pid()'), $pid1, 'psql client: same backend again');
is($sl->safe_psql('SHOW work_mem'), $default_work_mem, 'psql client: work_mem is the default');

# PostgreSQL saw exactly one backend for app all along
is($pg->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'}), '1',
   'one server connection for app (pool size 1)');

done_testing();
