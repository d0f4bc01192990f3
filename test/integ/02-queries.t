# Queries through sluice: round trips, errors inside a transaction, notices,
# the extended protocol, a large query text and a few MB of COPY both ways.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Digest::MD5 qw(md5_hex);
use SluiceTest;
use SluiceTest::Proto qw(msg);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw' },
);

# --- simple round trips (psql and raw protocol)
is($sl->safe_psql('SELECT 1 + 1'), '2', 'psql round trip');
is($sl->safe_psql("SELECT count(*), sum(g) FROM generate_series(1, 100000) g"), '100000|5000050000',
   'aggregate over generated rows');
my $c = $sl->proto;
my $r = $c->query('SELECT 1 AS a; SELECT $$two$$ AS b');
is_deeply($r->{rows}, [ ['1'], ['two'] ], 'two statements in one Query message: both results');
is_deeply($r->{tags}, [ 'SELECT 1', 'SELECT 1' ], 'two CommandComplete tags');
is($r->{status}, 'I', 'ReadyForQuery idle');
$r = $c->query("SELECT repeat('x', 200000) AS big, NULL::text AS n");
is(length($r->{rows}[0][0] // ''), 200000, 'a 200 kB value comes back whole');
ok(!defined $r->{rows}[0][1], 'a NULL comes back as NULL');
my $long = 'y' x 1_000_000;
is($c->query_value("SELECT length('$long')"), 1_000_000, 'a 1 MB query text goes through');

# --- an error inside a transaction, then ROLLBACK: the connection is usable
$r = $c->query('BEGIN');
is($r->{status}, 'T', 'BEGIN: ReadyForQuery in transaction');
$r = $c->query('SELECT 1/0');
is($r->{errors}[0]{C}, '22012', 'division by zero: SQLSTATE 22012');
is($r->{status}, 'E', 'ReadyForQuery says failed transaction');
$r = $c->query('SELECT 1');
is($r->{errors}[0]{C}, '25P02', 'next statement: in failed transaction (25P02)');
$r = $c->query('ROLLBACK');
is_deeply($r->{tags}, ['ROLLBACK'], 'ROLLBACK completes');
is($r->{status}, 'I', 'idle after ROLLBACK');
is($c->query_value('SELECT 42'), '42', 'connection usable after the failed transaction');

# the same through psql, which stops nothing with ON_ERROR_STOP=0
my ($out, $err, $rc) = $sl->psql("BEGIN;\nSELECT 1/0;\nROLLBACK;\nSELECT 'after';\n", on_error_stop => 0);
like($err, qr/division by zero/, 'psql sees the error');
like($out, qr/^after$/m, 'psql: the statement after ROLLBACK runs');

# --- NOTICE delivered
$r = $c->query(q{DO $$ BEGIN RAISE NOTICE 'hello'; END $$});
is(scalar @{ $r->{notices} }, 1, 'one NoticeResponse');
is($r->{notices}[0]{M}, 'hello', 'notice text');
is($r->{notices}[0]{S}, 'NOTICE', 'notice severity');
(undef, $err, $rc) = $sl->psql(q{DO $$ BEGIN RAISE NOTICE 'hello'; END $$;});
like($err, qr/NOTICE:\s+hello/, 'psql prints the NOTICE');

# --- extended protocol: Parse/Bind/Describe/Execute/Sync (unnamed statement)
$c->send(msg('P', "\0SELECT \$1::int + 1 AS n\0" . pack('n', 0))
	 . msg('B', "\0\0" . pack('n', 0) . pack('n', 1) . pack('N', 2) . '41' . pack('n', 0))
	 . msg('D', "P\0")
	 . msg('E', "\0" . pack('N', 0))
	 . msg('S'));
$r = $c->read_results;
is_deeply($r->{rows}, [ ['42'] ], 'extended protocol: result row');
is_deeply([ grep { /[12TDCZ]/ } @{ $r->{types} } ], [qw(1 2 T D C Z)],
	  'extended protocol: ParseComplete, BindComplete, RowDescription, DataRow, CommandComplete, ReadyForQuery');
$c->terminate;

# --- COPY IN and COPY OUT of ~5 MB
my $dir = SluiceTest::new_tempdir('copy');
my $in = "$dir/in.tsv";
my @lines;
for my $i (1 .. 40000) {
	my $h = md5_hex("row $i");
	push @lines, "$i\t" . ($h x 3) . " caf\xc3\xa9 \\\\ \\t $i";
}
my $data = join("\n", @lines) . "\n";
SluiceTest::spit($in, $data);
cmp_ok(length $data, '>', 4_000_000, 'COPY input is a few MB');
$sl->safe_psql('CREATE TABLE t (id int PRIMARY KEY, payload text)');
($out, $err, $rc) = $sl->psql("\\copy t from '$in'", timeout => 120);
is($rc, 0, '\copy from file through sluice') or diag($err);
is($sl->safe_psql('SELECT count(*) FROM t'), 40000, 'all rows arrived');
# the server's view of the bytes: re-render COPY text format and hash it
(my $unescaped = $data) =~ s/\\\\/\x00/g;
$unescaped =~ s/\\t/\t/g;
$unescaped =~ s/\x00/\\/g;
chomp $unescaped;
is($sl->safe_psql(q{SELECT md5(string_agg(id || E'\t' || payload, E'\n' ORDER BY id)) FROM t}),
   md5_hex($unescaped), 'server-side checksum matches the data sent');
my $outfile = "$dir/out.tsv";
($out, $err, $rc) = $sl->psql("\\copy (SELECT * FROM t ORDER BY id) to '$outfile'", timeout => 120);
is($rc, 0, '\copy to file through sluice') or diag($err);
is(md5_hex(SluiceTest::slurp($outfile)), md5_hex($data), 'COPY OUT returns the same bytes');
is(-s $outfile, length $data, 'COPY OUT file has the same size');

# a COPY that fails half way (bad row) leaves the connection usable
SluiceTest::spit("$dir/bad.tsv", "1\tdup\n");
($out, $err, $rc) = $sl->psql("\\copy t from '$dir/bad.tsv'\nSELECT 'still here';\n", on_error_stop => 0);
like($err, qr/duplicate key/, 'a failing COPY reports the error');
like($out, qr/still here/, 'the session goes on after a failed COPY');

done_testing();
