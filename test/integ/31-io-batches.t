# Socket reads and writes in batches: with io_uring (when the kernel
# allows it) and without (SLUICE_IO_URING=off, as in a container whose
# seccomp profile refuses io_uring), the same traffic comes through whole:
# pgbench with 40 clients over a pool of 5 in the simple, extended and
# prepared protocols, every transaction counted; a large value and a long
# result in both directions (COPY in and out), which take the direct way
# past the batches; and the log says which way sluice took.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd spit);

plan skip_all => 'PgBouncer has no batches' if SluiceTest::Sluice::is_pgbouncer();

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $pgbench = SluiceTest::Pg::bindir() . '/pgbench';
{
	my ($out, $err, $rc) = run_cmd([ $pgbench, '-i', '-q', '-s', '1', '-h', $pg->host, '-p', $pg->port,
					 '-U', 'app', 'app' ], env => { PGPASSWORD => 'app_pw' }, timeout => 60);
	die "pgbench -i failed ($rc):\n$err" if $rc != 0;
}

for my $mode (qw(io_uring off)) {
	local $ENV{SLUICE_IO_URING};
	if ($mode eq 'off') { $ENV{SLUICE_IO_URING} = 'off' } else { delete $ENV{SLUICE_IO_URING} }
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') },
		users => { app => 'app_pw' },
		settings => { pool_mode => 'transaction', default_pool_size => 5, auth_type => 'md5',
			      query_wait_timeout => 60 },
	);
	my $log = $sl->log_contents;
	if ($mode eq 'off') {
		like($log, qr/one system call each \(SLUICE_IO_URING=off\)/, "off: the log says plain calls");
	} else {
		like($log, qr/in batches \(io_uring\)|one system call each \(io_uring: /,
		     "$mode: the log says which way sluice took");
		diag((grep { /socket reads and writes/ } split /\n/, $log)[0] // 'no line');
	}

	# 40 clients over 5 servers: many sockets ready in each loop pass
	for my $proto (qw(simple extended prepared)) {
		my ($out, $err, $rc) = run_cmd(
			[ $pgbench, '-n', '-S', '-M', $proto, '-c', 40, '-j', 4, '-t', 150,
			  '-h', $sl->host, '-p', $sl->port, '-U', 'app', 'app' ],
			env => { PGPASSWORD => 'app_pw' }, timeout => 120);
		is($rc, 0, "$mode: pgbench -M $proto ran") or diag($err);
		like($out, qr{number of transactions actually processed: 6000/6000},
		     "$mode: -M $proto: every transaction done");
		unlike($out . $err, qr/number of failed transactions: [1-9]|error/i, "$mode: -M $proto: no errors");
	}

	# a large value each way, and long results: the direct way
	my $big = $sl->safe_psql("SELECT length(repeat('x', 3000000)), md5(repeat('x', 3000000))",
				 user => 'app', password => 'app_pw', db => 'app');
	my $want = $pg->safe_psql('app', "SELECT length(repeat('x', 3000000)), md5(repeat('x', 3000000))");
	is($big, $want, "$mode: a 3 MB value's length and digest");
	my $rows = $sl->safe_psql('SELECT g, md5(g::text) FROM generate_series(1, 100000) g',
				  user => 'app', password => 'app_pw', db => 'app');
	my @lines = split /\n/, $rows;
	is(scalar @lines, 100000, "$mode: 100,000 rows out");
	is($lines[99999], '100000|' . $pg->safe_psql('app', "SELECT md5('100000')"), "$mode: the last row whole");
	my $copy = join '', map { "$_\t" . ('y' x 50) . "\n" } 1 .. 50000;
	my $tmp = SluiceTest::new_tempdir('iob') . '/in.tsv';
	spit($tmp, $copy, 0644);
	$sl->safe_psql("CREATE TABLE IF NOT EXISTS iob (a int, b text); TRUNCATE iob; "
		       . "\\copy iob FROM '$tmp'", user => 'app', password => 'app_pw', db => 'app');
	is($pg->safe_psql('app', 'SELECT count(*), sum(a), sum(length(b)) FROM iob'),
	   '50000|1250025000|2500000', "$mode: 50,000 rows in by COPY");
	$sl->stop;
}

done_testing();
