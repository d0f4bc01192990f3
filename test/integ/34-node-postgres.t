# node-postgres (pg.Pool) through sluice in transaction mode: a pool of 8
# connections shared by 12 async workers over sluice's pool of 3, named
# queries ({name, text, values}: Parse once per connection, then
# Bind/Execute), concurrent queries, transactions committed and rolled
# back, a 1,000,000-character multibyte text and a 4 KB bytea. The script
# (js/pg_pool_load.js) checks every value it reads back; this file then
# checks what PostgreSQL holds, directly.
#
# Every query is bounded (query_timeout), and so is the run.
#
# Needs node, and npm to install test/integ/js's package-lock.json on first
# use (network needed once).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest::Clients qw(items_table node_with);

my $JSDIR = "$FindBin::Bin/js";
my ($CLIENTS, $WORKERS, $ROUNDS) = (8, 12, 10);

node_with($JSDIR, 'pg', 'node-postgres');

my $t = SluiceTest::Clients->setup(pool => 3, sql => [ items_table() ]);

$t->run_script('node-postgres', [ 'node', "$JSDIR/pg_pool_load.js", '--clients', $CLIENTS, '--workers', $WORKERS,
				  '--iterations', $ROUNDS, '--deadline', 50 ],
	       timeout => 70, cwd => $JSDIR, checked => $WORKERS * $ROUNDS * 25,
	       what => "node-postgres: pg.Pool of $CLIENTS, $WORKERS workers x $ROUNDS rounds over a pool of 3");

# What PostgreSQL holds, read directly: per worker and round 21 rows (one
# large); the rolled back row (+500) must not be there.
$t->check_items(workers => $WORKERS, rounds => $ROUNDS, rows => 21,
		what => 'every row stored once, no rolled back row', typed => [ 'numeric', 'jsonb', 'timestamptz' ]);

done_testing();
