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
use SluiceTest qw(run_cmd);
use SluiceTest::Clients qw(big_text_md5);

my $PYTHON = $ENV{SLUICE_TEST_PYTHON} // '/usr/bin/python3';
my ($CONNS, $ROUNDS) = (8, 10);

{
	my ($out, $err, $rc) = run_cmd([ $PYTHON, '-c', 'import asyncpg; print(asyncpg.__version__)' ],
				       timeout => 30);
	plan skip_all => "$PYTHON cannot import asyncpg (Debian python3-asyncpg; make deps): $err" if $rc != 0;
	note("asyncpg $out");
}

my $t = SluiceTest::Clients->setup(pool => 3, sql => [
	'CREATE TABLE items (id int PRIMARY KEY, t text, n numeric, ts timestamptz, j jsonb, b bytea)' ]);

$t->run_script('asyncpg', [ $PYTHON, "$FindBin::Bin/py/asyncpg_load.py", '--connections', $CONNS,
			    '--iterations', $ROUNDS, '--deadline', 60 ],
	       timeout => 80, checked => $CONNS * ($ROUNDS * 26 + 202),
	       what => "asyncpg: $CONNS connections x $ROUNDS rounds over a pool of 3");

# What PostgreSQL holds, read directly.
my ($n, $sum, $nulls, @big) = (0, 0, 0);
for my $c (0 .. $CONNS - 1) {
	for my $base ((map { $c * 100000 + $_ * 1000 } 0 .. $ROUNDS - 1), $c * 100000 + 99000) {
		my $last = $base % 100000 == 99000 ? 199 : 50;
		push @big, $base;
		for my $id ($base .. $base + $last) {
			$n++;
			$sum += $id;
			$nulls++ if $id % 10 == 9 && $id != $base;
		}
	}
}
is($t->app_sql('SELECT count(*), sum(id), count(*) FILTER (WHERE t IS NULL), '
	       . 'count(*) FILTER (WHERE length(t) = 1000000) FROM items'),
   join('|', $n, $sum, $nulls, scalar @big),
   'items: every row stored once (count, sum of ids, NULL rows, large rows)');
{
	my %want = map { $_ => big_text_md5($_) } @big;
	my %got = map { split /\|/ } split /\n/,
	    $t->app_sql('SELECT id, md5(t) FROM items WHERE length(t) = 1000000');
	my @bad = grep { ($got{$_} // '') ne $want{$_} } sort { $a <=> $b } keys %want;
	is(scalar @bad, 0, 'items: every 1,000,000-character text is byte for byte the one sent')
	    or diag('wrong or missing: ' . join(' ', @bad[0 .. ($#bad > 9 ? 9 : $#bad)]));
}
is($t->app_sql(q{SELECT count(*) FROM items WHERE octet_length(b) = 4096 AND b = (SELECT string_agg(set_byte('\x00'::bytea, 0, (g + id) % 256), '' ORDER BY g) FROM generate_series(0, 4095) g)}),
   scalar @big, 'items: every 4 KB bytea holds every byte value in the order sent');
is($t->app_sql(q{SELECT count(*) FROM items WHERE j->>'s' = 'ü€😀' AND ts = '2024-02-29 12:34:56.789+00'::timestamptz + id * interval '1 second'}),
   scalar @big, 'items: jsonb and timestamptz of the large rows as sent');

SluiceTest::check_log();
done_testing();
