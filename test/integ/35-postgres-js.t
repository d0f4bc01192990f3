# postgres.js through sluice in transaction mode: one postgres() of 8
# connections shared by 12 async workers over sluice's pool of 3, with its
# defaults: queries issued together are pipelined on a connection (each
# with its own Sync), every query a named prepared statement (prepare:
# true). Bursts of 100 SELECTs and 20 INSERTs at once, sql.begin
# transactions committed (with queries pipelined inside) and rolled back,
# a 1,000,000-character multibyte text and a 4 KB bytea. The script
# (js/postgres_js_load.mjs) checks every value it reads back; this file
# then checks what PostgreSQL holds, directly.
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
my ($MAX, $WORKERS, $ROUNDS) = (8, 12, 10);

node_with($JSDIR, 'postgres', 'postgres.js');

my $t = SluiceTest::Clients->setup(pool => 3, sql => [ items_table() ]);

$t->run_script('postgres.js', [ 'node', "$JSDIR/postgres_js_load.mjs", '--max', $MAX, '--workers', $WORKERS,
				  '--iterations', $ROUNDS, '--deadline', 50 ],
	       timeout => 70, cwd => $JSDIR, checked => $WORKERS * $ROUNDS * 126,
	       what => "postgres.js: max $MAX, $WORKERS workers x $ROUNDS rounds over a pool of 3");

# What PostgreSQL holds, read directly: per worker and round 21 rows (one
# large); the rolled back row (+500) must not be there.
$t->check_items(workers => $WORKERS, rounds => $ROUNDS, rows => 21,
		what => 'every row stored once, no rolled back row', typed => [ 'numeric', 'jsonb', 'timestamptz' ]);

done_testing();
