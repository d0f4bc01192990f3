# A cancel must never hit the next client's query. Transaction pooling
# with one server: client A sends short queries and cancels each at once
# (libpq PQcancel), while client B runs queries on the same server between
# A's. sluice forwards A's CancelRequest to PostgreSQL on a new connection;
# by then A's query may have finished and the server gone to B, and
# PostgreSQL's signal would land on B's query (57014) or on the
# SET application_name sluice sends before it (then B was disconnected).
# sluice gives a server on which a cancel is in flight to no one until
# PostgreSQL has taken the cancel (test/integ/c/cancel_race.c).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_c_test);

use constant ROUNDS => 1000;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
	settings => { pool_mode => 'transaction', default_pool_size => 1 },
);

run_c_test('cancel_race', $sl->connstr(application_name => 'race-a'),
	   $sl->connstr(application_name => 'race-b'), ROUNDS, 90, { timeout => 120 });

# the server is still there and serves
my $c = $sl->proto;
is($c->query_value('SELECT 1'), '1', 'the pool still serves after the race');
$c->terminate;

done_testing();
