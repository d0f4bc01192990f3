# psycopg 3 through sluice in transaction mode, 8 connections over a pool
# of 3: executemany (pipeline mode) of large rows and of small rows, a
# conn.pipeline() block of many statements, binary COPY in and out, with
# prepare_threshold=0 on half the connections and psycopg's default on the
# other half; 10 rounds per connection (the intermittent hang this is
# after showed up about one run in three). The script (py/psycopg_load.py)
# checks every value it reads back; this file then checks what PostgreSQL
# holds, directly: counts, sums, and the md5 of every 1,000,000-character
# text against the one built here.
#
# Every run is bounded: the script gives up at its deadline and names the
# stuck connections; run_cmd kills it a little later in any case.
#
# Needs Debian's /usr/bin/python3 with python3-psycopg (make deps).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest::Clients qw(items_table python_with);

my ($WORKERS, $ROUNDS) = (8, 10);
my $PYTHON = python_with('psycopg');

my $t = SluiceTest::Clients->setup(pool => 3, sql => [
	items_table('items'), items_table('items_copy'),
	'CREATE TABLE events (w int NOT NULL, k int NOT NULL, i int NOT NULL, v text NOT NULL)' ]);

my $per_worker = $ROUNDS * 145 + 52;
$t->run_script('psycopg', [ $PYTHON, "$FindBin::Bin/py/psycopg_load.py", '--workers', $WORKERS,
			    '--iterations', $ROUNDS, '--deadline', 60 ],
	       timeout => 80, checked => $WORKERS * $per_worker,
	       what => "psycopg: $WORKERS connections x $ROUNDS rounds over a pool of 3");

# What PostgreSQL holds, read directly: per worker and round 103 rows,
# the first 3 large (the third with NULL numeric, timestamptz and jsonb,
# so no typed check), then 100 small, every tenth with t NULL.
$t->check_items(workers => $WORKERS, rounds => $ROUNDS, rows => 103, large => 3);
is($t->app_sql('SELECT count(*), sum(i) FROM events'),
   join('|', $WORKERS * $ROUNDS * 20, $WORKERS * $ROUNDS * 190), 'events: every pipelined INSERT stored once');
{
	my $csum = 0;
	$csum += ($_ * 100000 + 99000) * 50 + 1225 for 0 .. $WORKERS - 1;
	is($t->app_sql('SELECT count(*), sum(id), count(*) FILTER (WHERE length(t) = 1000000) FROM items_copy'),
	   join('|', $WORKERS * 50, $csum, $WORKERS * 2), 'items_copy: every binary COPY row stored once');
}

done_testing();
