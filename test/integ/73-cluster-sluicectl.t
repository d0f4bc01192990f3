# sluicectl --cluster (issue 19 item 4, doc/cluster.md): pause, resume,
# status and migrate act on every member of a cluster through any one of
# them and print a line per member; migrate --cluster runs a psql
# migration (a column type change) while every member holds application
# work, and ends the window on all of them; a failed drain is reported with
# each member's part and the command is not run.
use strict;
use warnings;
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd wait_for);
use SluiceTest::Proto qw(msg);
use SluiceTest::Cluster qw(coord_setup member console peers_by_id gate_of);

my $CTL = $ENV{SLUICECTL_BIN} // abs_path("$FindBin::Bin/../../sluicectl");
plan skip_all => "sluicectl not built ($CTL): run make" unless $CTL && -x $CTL;
my $PSQL = SluiceTest::psql_bin();

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_role('migrator', 'mig_pw');
$pg->create_db('app', 'migrator');
$pg->safe_psql('app', 'CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 10); '
	       . 'GRANT SELECT, INSERT, UPDATE ON t TO app', user => 'migrator', password => 'mig_pw', host => 'tcp');
my $dsn = coord_setup($pg);
my %sl;
$sl{$_} = member(pg => $pg, id => $_, dsn => $dsn, users => { migrator => 'mig_pw' },
		 settings => { gate_bypass_users => 'migrator' }) for 1 .. 3;
my $adm = console($sl{1});
ok(wait_for(sub { 3 == grep { $_->{state} eq 'alive' } values %{ peers_by_id($adm) } }, timeout => 20),
   'three live members');

my %env = (SLUICECTL_PASSWORD => 'admin_pw', PGPASSWORD => 'mig_pw', PGUSER => 'migrator');
my @stderrs;
sub ctl
{
	my ($id, @args) = @_;
	my ($out, $err, $rc) = run_cmd([ $CTL, '-h', $sl{$id}->sockdir, '-p', $sl{$id}->port, '-U', 'admin', @args ],
				       env => \%env, timeout => 60);
	push @stderrs, $err;
	return ($out, $err, $rc);
}
sub app_of { my ($id) = @_; return $sl{$id}->proto(host => $sl{$id}->sockdir) }

# ---- status --cluster: a line per member
my ($out, $err, $rc) = ctl(2, 'status', '--cluster');
is($rc, 0, 'status --cluster exits 0') or diag($err);
like($out, qr/^$_\s+\S+:\d+\s+alive\s/m, "status --cluster: peer $_ alive") for 1 .. 3;
like($out, qr/pool sizes summed over the live members: 12/, 'status --cluster: the pool sizes summed');

# ---- pause --cluster through member 3, resume --cluster through member 1
($out, $err, $rc) = ctl(3, 'pause', 'app', '--cluster');
is($rc, 0, 'pause app --cluster exits 0') or diag($err);
like($out, qr/app paused \(on every member, cluster window (\d+)\)/, 'it names the cluster window');
my ($window) = $out =~ /cluster window (\d+)\)/;
like($out, qr/^\s+$_\s+\S+\s+alive\s+closed\s/m, "summary: peer $_ closed") for 1 .. 3;
is(gate_of(console($sl{$_}), 'app')->{state}, 'closed', "member $_: closed") for 1 .. 3;
($out, $err, $rc) = ctl(1, 'resume', 'app', '--cluster', '--window', $window);
is($rc, 0, 'resume app --cluster --window exits 0') or diag($err);
like($err, qr/app resumed on every member \(cluster window $window\)/, 'it says so');
like($out, qr/cluster window $window of app: open/, 'summary: the window is open');
ok(wait_for(sub { gate_of(console($sl{$_}), 'app')->{state} eq 'open' }, timeout => 5), "member $_: open")
    for 1 .. 3;

# ---- migrate --cluster through member 2: a column type change while held
my %held = map { ($_ => app_of($_)) } 1 .. 3;
my $mig = 'ALTER TABLE t ALTER COLUMN v TYPE bigint';
my $script = "$PSQL -X -v ON_ERROR_STOP=1 -c \"$mig\" -c \"SELECT pg_sleep(0.5)\"";
my $dir = SluiceTest::new_tempdir('ctl');
my $pid = fork // die;
if (!$pid) {
	@ENV{ keys %env } = values %env;
	open STDOUT, '>', "$dir/mig.out" or die;
	open STDERR, '>', "$dir/mig.err" or die;
	exec $CTL, '-h', $sl{2}->sockdir, '-p', $sl{2}->port, '-U', 'admin', 'migrate', 'app', '--cluster',
	     '--', 'sh', '-c', $script;
	exit 127;
}
ok(wait_for(sub { gate_of(console($sl{1}), 'app')->{state} eq 'closed' }, timeout => 10),
   'migrate --cluster closed member 1 too');
$held{$_}->send(msg('Q', "UPDATE t SET v = v + 1 WHERE id = 1 RETURNING pg_typeof(v)\0")) for 1 .. 3;
waitpid($pid, 0);
is($? >> 8, 0, 'migrate --cluster exits with the command\'s status (0)');
my $mout = SluiceTest::slurp("$dir/mig.out");
push @stderrs, SluiceTest::slurp("$dir/mig.err");
like($mout, qr/ALTER TABLE/, 'the migration ran');
like($mout, qr/^\s+$_\s+\S+\s+alive\s+closed\s/m, "its summary: member $_ took part (closed)") for 1 .. 3;
for my $id (1 .. 3) {
	my $r = $held{$id}->read_results(10);
	is($r->{rows}[0][0] // '', 'bigint', "member $id: the held update ran after the migration (v is bigint)");
}
is($pg->safe_psql('app', 'SELECT v FROM t'), 13, 'each held update ran once');
($out, $err, $rc) = ctl(2, 'migrate', 'app', '--cluster', '--', 'sh', '-c', 'exit 0');
is($rc, 0, 'a second migrate --cluster') or diag($err);
like($out, qr/cluster window \d+ of app: open/, 'its summary: the window is open again');
like($out, qr/^\s+3\s+\S+\s+alive\s+closed\s/m, "its summary: member 3's part (closed)");

# ---- a member that cannot drain: the command is not run
my $busy = app_of(3);
$busy->query('BEGIN');
$busy->query('SELECT 1');
$sl{$_}->expect_log(qr/cluster window \d+ \(app\) failed|drain deadline passed|pooler error: PAUSE app CLUSTER/)
    for 1 .. 3;
($out, $err, $rc) = ctl(1, 'migrate', 'app', '--cluster', '--timeout', '1', '--', 'sh', '-c', 'touch /nonexistent/x');
is($rc, 75, 'migrate --cluster with a busy member exits 75');
like($err, qr/peer 3: failed: C-\d+/, "the report names what ran on member 3");
like($err, qr/the command was not run/, 'the command was not run');
is($busy->query('COMMIT')->{tags}[0], 'COMMIT', 'the busy transaction commits');

ok(!grep({ /AddressSanitizer|runtime error:/ } @stderrs), 'no sanitizer report from sluicectl');
done_testing();
