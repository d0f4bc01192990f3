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
use SluiceTest qw(run_cmd);
use SluiceTest::Clients qw(big_text_md5);

my $JSDIR = "$FindBin::Bin/js";
my ($MAX, $WORKERS, $ROUNDS) = (8, 12, 10);

plan skip_all => 'node is not installed (Debian nodejs; make deps)'
    unless (run_cmd([ 'node', '--version' ], timeout => 30))[2] == 0;
SluiceTest::Clients::npm_ready($JSDIR, 'postgres') or BAIL_OUT('postgres.js is required: run npm ci in test/integ/js');

my $t = SluiceTest::Clients->setup(pool => 3, sql => [
	'CREATE TABLE items (id int PRIMARY KEY, t text, n numeric, ts timestamptz, j jsonb, b bytea)' ]);

$t->run_script('postgres.js', [ 'node', "$JSDIR/postgres_js_load.mjs", '--max', $MAX, '--workers', $WORKERS,
				  '--iterations', $ROUNDS, '--deadline', 50 ],
	       timeout => 70, cwd => $JSDIR, checked => $WORKERS * $ROUNDS * 126,
	       what => "postgres.js: max $MAX, $WORKERS workers x $ROUNDS rounds over a pool of 3");

# What PostgreSQL holds, read directly.
my ($n, $sum, $nulls, @big) = (0, 0, 0);
for my $w (0 .. $WORKERS - 1) {
	for my $k (0 .. $ROUNDS - 1) {
		my $base = $w * 100000 + $k * 1000;
		push @big, $base;
		for my $id ($base .. $base + 20) {
			$n++;
			$sum += $id;
			$nulls++ if $id % 10 == 9 && $id != $base;
		}
	}
}
is($t->app_sql('SELECT count(*), sum(id), count(*) FILTER (WHERE t IS NULL), '
	       . 'count(*) FILTER (WHERE length(t) = 1000000) FROM items'),
   join('|', $n, $sum, $nulls, scalar @big),
   'items: every row stored once, no rolled back row (count, sum of ids, NULL rows, large rows)');
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
is($t->app_sql(q{SELECT count(*) FROM items WHERE j->>'s' = 'ü€😀' AND ts = '2024-02-29 12:34:56.789+00'::timestamptz + id * interval '1 second' AND n = ('-' || id || '98765432109876543210.01234567890123456789')::numeric}),
   scalar @big, 'items: numeric, jsonb and timestamptz of the large rows as sent');

SluiceTest::check_log();
done_testing();
