# asyncpg through sluice in transaction mode, 8 connections at once
# (asyncio.gather) over a pool of 3, with asyncpg's statement cache on (its
# default: every query a named prepared statement, binary results, row
# descriptions cached per statement): executemany, conn.prepare and fetch
# with parameters, a transaction holding a 1,000,000-character text and a
# 4 KB bytea, copy_records_to_table. The script (py/asyncpg_load.py)
# checks every value it reads back; this file then checks what PostgreSQL
# holds, directly.
#
# Every await in the script is bounded, and so is the run.
#
# Needs Debian's /usr/bin/python3 with python3-asyncpg (make deps).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest::Clients qw(items_table python_with);

my ($CONNS, $ROUNDS) = (8, 10);
my $PYTHON = python_with('asyncpg');

my $t = SluiceTest::Clients->setup(pool => 3, sql => [ items_table() ]);

$t->run_script('asyncpg', [ $PYTHON, "$FindBin::Bin/py/asyncpg_load.py", '--connections', $CONNS,
			    '--iterations', $ROUNDS, '--deadline', 60 ],
	       timeout => 80, checked => $CONNS * ($ROUNDS * 26 + 202),
	       what => "asyncpg: $CONNS connections x $ROUNDS rounds over a pool of 3");

# What PostgreSQL holds, read directly: per connection and round 51 rows
# (one large), and per connection 200 copied rows (one large) from id
# c * 100000 + 99000.
$t->check_items(workers => $CONNS, rounds => $ROUNDS, rows => 51,
		more => [ map { [ $_ * 100000 + 99000, 200 ] } 0 .. $CONNS - 1 ],
		typed => [ 'jsonb', 'timestamptz' ]);

done_testing();
