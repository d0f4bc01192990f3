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
use SluiceTest qw(run_cmd);
use SluiceTest::Clients qw(big_text_md5);

my $PYTHON = $ENV{SLUICE_TEST_PYTHON} // '/usr/bin/python3';
my ($WORKERS, $ROUNDS) = (8, 10);

{
	my ($out, $err, $rc) = run_cmd([ $PYTHON, '-c', 'import psycopg; print(psycopg.__version__)' ],
				       timeout => 30);
	plan skip_all => "$PYTHON cannot import psycopg (Debian python3-psycopg; make deps): $err" if $rc != 0;
	note("psycopg $out");
}

my $COLS = 'id int PRIMARY KEY, t text, n numeric, ts timestamptz, j jsonb, b bytea';
my $t = SluiceTest::Clients->setup(pool => 3, sql => [
	"CREATE TABLE items ($COLS)", "CREATE TABLE items_copy ($COLS)",
	'CREATE TABLE events (w int NOT NULL, k int NOT NULL, i int NOT NULL, v text NOT NULL)' ]);

my $per_worker = $ROUNDS * 145 + 52;
$t->run_script('psycopg', [ $PYTHON, "$FindBin::Bin/py/psycopg_load.py", '--workers', $WORKERS,
			    '--iterations', $ROUNDS, '--deadline', 60 ],
	       timeout => 80, checked => $WORKERS * $per_worker,
	       what => "psycopg: $WORKERS connections x $ROUNDS rounds over a pool of 3");

# What PostgreSQL holds, read directly.
my (@ids, @big);
for my $w (0 .. $WORKERS - 1) {
	for my $k (0 .. $ROUNDS - 1) {
		my $base = $w * 100000 + $k * 1000;
		push @ids, $base + $_ for 0 .. 102;
		push @big, $base, $base + 1, $base + 2;
	}
}
my $sum = 0;
$sum += $_ for @ids;
is($t->app_sql('SELECT count(*), sum(id), count(*) FILTER (WHERE t IS NULL), '
	       . 'count(*) FILTER (WHERE length(t) = 1000000) FROM items'),
   join('|', scalar @ids, $sum, $WORKERS * $ROUNDS * 10, scalar @big),
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
is($t->app_sql('SELECT count(*), sum(i) FROM events'),
   join('|', $WORKERS * $ROUNDS * 20, $WORKERS * $ROUNDS * 190), 'events: every pipelined INSERT stored once');
{
	my $csum = 0;
	$csum += ($_ * 100000 + 99000) * 50 + 1225 for 0 .. $WORKERS - 1;
	is($t->app_sql('SELECT count(*), sum(id), count(*) FILTER (WHERE length(t) = 1000000) FROM items_copy'),
	   join('|', $WORKERS * 50, $csum, $WORKERS * 2), 'items_copy: every binary COPY row stored once');
}

SluiceTest::check_log();
done_testing();
