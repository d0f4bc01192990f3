# Many clients over a small pool: 50 concurrent psql clients over
# default_pool_size=5 all finish, and PostgreSQL never sees more than 5
# backends for the user (session and transaction mode). Past
# max_client_conn a client is refused with PostgreSQL's 53300, and gets in
# once others have left.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use POSIX qw(WNOHANG);
use SluiceTest qw(spawn wait_for);

my $pg = SluiceTest::Pg->new(conf => ['max_connections = 100']);
for my $u (qw(app tx)) {
	$pg->create_role($u, "${u}_pw");
}
$pg->create_db('app', 'app');

my $NCLIENTS = 50;
my $POOL = 5;

# Start $NCLIENTS psql processes through $sl as $user; poll pg_stat_activity
# (directly, as superuser) while they run. Returns (max backends seen,
# number of samples, [exit codes], [outputs], [errors]).
sub run_clients
{
	my ($sl, $user, $tag) = @_;
	my $dir = SluiceTest::new_tempdir("clients-$tag");
	my $sql = "$dir/script.sql";
	SluiceTest::spit($sql, join('', map { "SELECT $_, pg_sleep(0.05);\n" } 1 .. 3)
			       . "SELECT count(*) FROM generate_series(1, 1000);\n", 0644);
	my $watch = $pg->proto;     # a direct superuser connection, for fast sampling
	my %pids;
	for my $i (1 .. $NCLIENTS) {
		my $pid = spawn([ SluiceTest::psql_bin(), '-X', '-w', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
				  '-h', '127.0.0.1', '-p', $sl->port, '-U', $user, '-d', 'app', '-f', $sql ],
				env => { PGPASSWORD => "${user}_pw", PGCONNECT_TIMEOUT => 30, PGGSSENCMODE => 'disable' },
				stdout => "$dir/out.$i", stderr => "$dir/err.$i");
		$pids{$pid} = $i;
	}
	my %rc;
	my ($max, $samples) = (0, 0);
	my $deadline = time() + 90;
	while (%pids && time() < $deadline) {
		my $n = $watch->query_value(
			"SELECT count(*) FROM pg_stat_activity WHERE usename = '$user' AND backend_type = 'client backend'");
		die "lost the watching connection" unless defined $n;
		select(undef, undef, undef, 0.02);   # the sampling interval
		$samples++;
		$max = $n if $n > $max;
		for my $pid (keys %pids) {
			next unless waitpid($pid, WNOHANG) == $pid;
			$rc{ $pids{$pid} } = SluiceTest::exit_code($?);
			delete $pids{$pid};
		}
	}
	for my $pid (keys %pids) {      # past the deadline: stop them
		kill 'KILL', $pid;
		waitpid($pid, 0);
		$rc{ $pids{$pid} } = 'killed';
	}
	$watch->terminate;
	my @out = map { SluiceTest::slurp("$dir/out.$_") } 1 .. $NCLIENTS;
	my @err = map { SluiceTest::slurp("$dir/err.$_") } 1 .. $NCLIENTS;
	return ($max, $samples, [ map { $rc{$_} } 1 .. $NCLIENTS ], \@out, \@err);
}

my $want_out = join('', map { "$_|\n" } 1 .. 3) . "1000\n";

for my $mode (qw(session transaction)) {
	my $user = $mode eq 'session' ? 'app' : 'tx';
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') },
		users => { $user => "${user}_pw" },
		settings => { pool_mode => $mode, default_pool_size => $POOL, max_client_conn => 200,
			      query_wait_timeout => 120 },
	);
	my ($max, $samples, $rc, $out, $err) = run_clients($sl, $user, $mode);
	my @bad = grep { $rc->[$_] ne '0' || $out->[$_] ne $want_out } 0 .. $NCLIENTS - 1;
	is(scalar @bad, 0, "$mode mode: all $NCLIENTS clients finished with the right output");
	diag("client " . ($_ + 1) . ": rc $rc->[$_]: $err->[$_]") for @bad[0 .. ($#bad > 4 ? 4 : $#bad)];
	cmp_ok($max, '<=', $POOL, "$mode mode: PostgreSQL saw at most $POOL backends for $user (max $max in $samples samples)");
	cmp_ok($max, '>=', 1, "$mode mode: the sampling saw the clients' backends");
	cmp_ok($pg->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE usename = '$user'"),
	       '<=', $POOL, "$mode mode: at most $POOL server connections remain afterwards");
	is($sl->safe_psql('SELECT 1'), '1', "$mode mode: a new client is served afterwards");
}

# --- max_client_conn
{
	my $MAX = 3;
	my $sl = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') },
		users => { app => 'app_pw' },
		settings => { max_client_conn => $MAX, default_pool_size => 10 },
	);
	$sl->expect_log(qr/pooler error: sorry, too many clients already \(sqlstate=53300\)/);
	# (the start-up check's psql has just left: give sluice the moment it
	# needs to count it out before the slots are filled)
	my @held = map { wait_for(sub { eval { $sl->proto } }, timeout => 10) } 1 .. $MAX;
	die "could not connect $MAX clients under max_client_conn=$MAX\n" if grep { !defined } @held;
	is(scalar(grep { ($_->query_value('SELECT 1') // '') eq '1' } @held), $MAX, "$MAX clients connected and working");

	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $c->login(user => 'app', password => 'app_pw', database => 'app');
	ok(!$r->{ok}, 'one client more than max_client_conn is refused');
	is($r->{error}{C}, '53300', 'refusal has SQLSTATE 53300');
	is($r->{error}{M}, 'sorry, too many clients already', "refusal has PostgreSQL's message");
	$c->close;

	my (undef, $err, $rc) = $sl->psql('SELECT 1');
	isnt($rc, 0, 'psql beyond max_client_conn fails');
	like($err, qr/too many clients/, 'psql shows "too many clients"');

	is($held[0]->query_value('SELECT 2'), '2', 'the held clients are unaffected');
	$_->terminate for splice(@held, 0, 2);
	my $got = wait_for(sub { my ($o) = $sl->psql('SELECT 42'); $o eq '42' }, timeout => 15, interval => 0.1);
	ok($got, 'after others leave, a new client gets in');
	$_->terminate for @held;
}

done_testing();
