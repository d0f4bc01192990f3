# The migration gate under load: 200 clients (transaction mode, a pool of
# 10) move money with named prepared statements (test/integ/c/gate_bank.c)
# for 25 s while three `sluicectl migrate app -- psql -f mN.sql` windows
# run; the second changes the type of the column the clients' prepared
# UPDATE ... RETURNING reads (int -> bigint). Then: no client error, money
# neither made nor lost, every transfer a client saw committed is in the
# history table (and no other), no application transaction overlaps a
# migration (PostgreSQL's own timestamps: each migration records
# clock_timestamp() at its start and end; each transfer its transaction
# start and, with track_commit_timestamp, its commit time), and each
# window's summary (held clients, longest hold) matches what the clients
# measured at their BEGIN.
use strict;
use warnings;
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/../lib";
use List::Util qw(max min);
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(run_cmd spawn wait_for slurp spit);

my ($NCLIENTS, $SECONDS, $NACCOUNTS, $BALANCE) = (200, 25, 100, 1000);
my $HOLD_SLACK = 0.15;   # clients see a hold longer (or shorter) by a round trip or two on each side

my $CTL = $ENV{SLUICECTL_BIN} // abs_path("$FindBin::Bin/../../sluicectl");
plan skip_all => "sluicectl not built: run make" unless $CTL && -x $CTL;
my $driver = SluiceTest::c_test_program('gate_bank');
plan skip_all => 'gate_bank not built: run make' unless $driver;

my $pg = SluiceTest::Pg->new(conf => ['track_commit_timestamp = on']);
$pg->create_role('app', 'app_pw');
$pg->create_role('migrator', 'mig_pw');
$pg->create_db('app', 'migrator');
$pg->safe_psql('app', <<"SQL", user => 'migrator', password => 'mig_pw', host => 'tcp');
CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
INSERT INTO accounts SELECT g, $BALANCE FROM generate_series(1, $NACCOUNTS) g;
CREATE TABLE history (id bigserial PRIMARY KEY, client int NOT NULL, seq int NOT NULL,
                      src int NOT NULL, dst int NOT NULL, amount int NOT NULL,
                      xact_start timestamptz NOT NULL, at timestamptz NOT NULL, UNIQUE (client, seq));
CREATE TABLE mig_log (tag text, phase text, at timestamptz NOT NULL, PRIMARY KEY (tag, phase));
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('a0');
GRANT SELECT, UPDATE ON accounts TO app;
GRANT SELECT ON alembic_version TO app;
GRANT SELECT, INSERT ON history TO app;
GRANT USAGE ON SEQUENCE history_id_seq TO app;
SQL

my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw', admin => 'admin_pw', migrator => 'mig_pw' },
	nofile => 4096,
	settings => { pool_mode => 'transaction', default_pool_size => 10, max_client_conn => 400,
		      auth_type => 'md5', admin_users => 'admin', gate_bypass_users => 'migrator',
		      query_wait_timeout => 60 },
	default_user => 'app',
);

my $dir = SluiceTest::new_tempdir('migload');
my %ddl = (
	1 => 'ALTER TABLE history ADD COLUMN note text;',
	2 => 'ALTER TABLE accounts ALTER COLUMN balance TYPE bigint;',
	3 => 'CREATE INDEX history_src ON history (src);',
);
for my $k (1 .. 3) {
	spit("$dir/m$k.sql", <<"SQL");
INSERT INTO mig_log VALUES ('m$k', 'start', clock_timestamp());
$ddl{$k}
DO \$\$ BEGIN PERFORM pg_sleep(0.5); END \$\$;
UPDATE alembic_version SET version_num = 'a$k';
INSERT INTO mig_log VALUES ('m$k', 'end', clock_timestamp());
SQL
}

my $t_start = time;
my $pid = SluiceTest::spawn([ SluiceTest::with_nofile(4096, $driver,
		$sl->connstr(user => 'app', password => 'app_pw', dbname => 'app'),
		$NCLIENTS, $SECONDS, $NACCOUNTS, $dir) ],
	env => { PGGSSENCMODE => 'disable' }, stdout => "$dir/driver.out", stderr => "$dir/driver.err");
ok(wait_for(sub { -e "$dir/ready" }, timeout => 60), "$NCLIENTS clients connected and prepared their statements")
    or diag(slurp("$dir/driver.out") . slurp("$dir/driver.err"));
my $t_ready = time;
sub pg_value { $pg->safe_psql('app', $_[0]) }

# ---- three windows, 5 s apart, each after at least 500 more transfers ----
my (%summary, $seen);
$seen = 0;
for my $k (1 .. 3) {
	wait_for(sub { time >= $t_ready + 5 * $k && pg_value('SELECT count(*) FROM history') >= $seen + 500 },
		 timeout => 5 * $k + 20);
	$seen = pg_value('SELECT count(*) FROM history');
	my $t0 = time;
	my ($out, $err, $rc) = run_cmd(
		[ $CTL, '-h', '127.0.0.1', '-p', $sl->port, '-U', 'admin', 'migrate', 'app', '--timeout', '10',
		  '--', SluiceTest::psql_bin(), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$dir/m$k.sql" ],
		env => { SLUICECTL_PASSWORD => 'admin_pw', PGPASSWORD => 'mig_pw', PGUSER => 'migrator' },
		timeout => 60);
	is($rc, 0, sprintf('window %d: sluicectl migrate -- psql -f m%d.sql exits 0 (%.2f s)', $k, $k, time - $t0))
	    or diag($out . $err);
	my %s;
	@s{qw(drain closed held hold errors before after)} = $out =~
	    /drain time\s+(\S+) s\n\s+closed time\s+(\S+) s\n\s+held clients\s+(\d+)\n\s+longest hold\s+(\S+) s\n\s+errors\s+(\d+)\n\s+schema\s+(.+) -> (.+)\n/;
	ok(defined $s{hold}, "window $k: the summary is printed") or diag($out . $err);
	$summary{$k} = \%s;
	note("window $k: $out");
	unlike($err, qr/AddressSanitizer|LeakSanitizer|runtime error:/, "window $k: sluicectl ran clean");
}
ok(kill(0, $pid) && !-e "$dir/result", 'the workload was still running after the third window');

my $st = SluiceTest::wait_pid($pid, $SECONDS + 90);
is(SluiceTest::exit_code($st), 0, 'the workload exited 0') or diag(slurp("$dir/driver.err"));
my $took = time - $t_start;
for my $line (split /\n/, slurp("$dir/driver.out")) {
	if ($line =~ /^(not )?ok\s+\d+\s*-\s*(.*)$/) { ok(!$1, "gate_bank: $2") }
	elsif ($line =~ /^#\s?(.*)$/) { note("gate_bank: $1") }
}
my ($committed, $errors) = slurp("$dir/result") =~ /committed (\d+) errors (\d+)/;
is($errors, 0, 'zero client errors') or diag(slurp("$dir/driver.out"));
cmp_ok($committed // 0, '>', 3 * $NCLIENTS, 'many transfers committed (' . ($committed // 0) . ')');

# ---- what PostgreSQL has ----
is(pg_value('SELECT sum(balance) FROM accounts'), $NACCOUNTS * $BALANCE, 'the total balance is unchanged');
is(pg_value('SELECT count(*) FROM history'), $committed, "the clients' commit count equals PostgreSQL's history rows");
is(pg_value(q{SELECT count(*) FROM accounts a LEFT JOIN (
	SELECT id, sum(d) AS d FROM (SELECT src AS id, -amount AS d FROM history
	                             UNION ALL SELECT dst, amount FROM history) m GROUP BY id) t ON t.id = a.id
	WHERE a.balance <> } . $BALANCE . q{ + coalesce(t.d, 0)}), 0, "each account's balance matches its history");
is(pg_value(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'balance'}),
   'bigint', 'the migration changed balance to bigint under the prepared statements');
is(pg_value('SELECT version_num FROM alembic_version'), 'a3', 'the three migrations were applied');

my %win = map { my ($tag, $s, $e) = split /\|/; ($tag => [ $s, $e ]) } split /\n/, pg_value(q{
	SELECT s.tag, extract(epoch FROM s.at), extract(epoch FROM e.at) FROM mig_log s JOIN mig_log e USING (tag)
	WHERE s.phase = 'start' AND e.phase = 'end' ORDER BY 1});
my @begins = map { [ split / / ] } grep { /\S/ } split /\n/, slurp("$dir/begins");
for my $k (1 .. 3) {
	my ($s, $e) = @{ $win{"m$k"} // [ 0, 0 ] };
	ok($s && $e > $s, sprintf('window %d: the migration ran %.3f s (PostgreSQL clock)', $k, $e - $s));
	is(pg_value(qq{SELECT count(*) FROM history, mig_log s, mig_log e
		WHERE s.tag = 'm$k' AND s.phase = 'start' AND e.tag = 'm$k' AND e.phase = 'end'
		AND history.xact_start <= e.at
		AND coalesce(pg_xact_commit_timestamp(history.xmin), history.at) >= s.at}), 0,
	   "window $k: no transfer's transaction (start .. commit) overlaps the migration");
	is(pg_value(qq{SELECT count(*) FROM history WHERE pg_xact_commit_timestamp(xmin) IS NULL}), 0,
	   "window $k: PostgreSQL has every transfer's commit time") if $k == 1;
	cmp_ok(pg_value(qq{SELECT count(*) FROM history, mig_log s WHERE s.tag = 'm$k' AND s.phase = 'start'
		AND pg_xact_commit_timestamp(history.xmin) BETWEEN s.at - interval '1 s' AND s.at}), '>', 0,
	       "window $k: transfers committed in the second before it (it closed under load)");
	cmp_ok(pg_value(qq{SELECT count(*) FROM history, mig_log e WHERE e.tag = 'm$k' AND e.phase = 'end'
		AND history.xact_start BETWEEN e.at AND e.at + interval '1 s'}), '>', 0,
	       "window $k: transfers began in the second after it (traffic resumed)");

	# clients held by this window: their BEGIN was sent before the
	# migration ended and answered after it
	my @held = grep { $_->[2] < $e && $_->[3] > $e } @begins;
	my $sm = $summary{$k};
	is(scalar(@held), $sm->{held} // -1, sprintf('window %d: clients held = %d as the clients saw it (%d)',
						 $k, $sm->{held} // -1, scalar @held));
	cmp_ok($sm->{held} // 0, '>=', $NCLIENTS * 0.9, "window $k: nearly every client was held");
	# the longest hold as the clients saw it: no BEGIN was answered from
	# the last one before the window to the first one after it
	my $last_before = max(map { $_->[3] < $s ? $_->[3] : () } @begins) // 0;
	my $first_after = min(map { $_->[3] > $e ? $_->[3] : () } @begins) // 0;
	my $gap = $first_after - $last_before;
	my $diff = $gap - ($sm->{hold} // 0);
	ok($diff > -0.05 && $diff < $HOLD_SLACK,
	   sprintf('window %d: longest hold %.3f s (summary) vs %.3f s without a BEGIN answered (clients)',
		   $k, $sm->{hold} // -1, $gap));
	my $wait = max(0, map { $_->[3] - $_->[2] } @held);
	my @sent = sort { $a <=> $b } map { $_->[2] } @held;
	my @done = sort { $a <=> $b } map { $_->[3] } @held;
	note(sprintf('window %d: held BEGINs sent from %+.3f to %+.3f s, answered from %+.3f to %+.3f s '
		     . '(median %+.3f) of the migration start; the longest wait at a BEGIN %.3f s '
		     . '(with the pool queue before the window and after it)',
		     $k, $sent[0] - $s, $sent[-1] - $s, $done[0] - $s, $done[-1] - $s, $done[$#done / 2] - $s, $wait))
	    if @held;
	cmp_ok($sm->{hold} // 0, '>=', $e - $s, "window $k: the longest hold covers the migration");
	is($sm->{errors}, 0, "window $k: the summary counts no errors");
	is("$sm->{before} -> $sm->{after}", 'alembic a' . ($k - 1) . " -> alembic a$k",
	   "window $k: the summary shows the schema version before -> after");
}
my $log = $sl->log_contents;
is(scalar(() = $log =~ /gate open -> draining/g), 3, 'the log shows three windows opening');
is(scalar(() = $log =~ /gate closed -> open/g), 3, '... and closing again');
unlike($log, qr/cached plan must not change result type/, 'no stale plan reached a client');
my @warnings = grep { /\b(WARNING|ERROR)\b/ } split /\n/, $log;
is(scalar @warnings, 0, 'sluice logged no warning or error during the run') or diag(join "\n", @warnings[0 .. min(19, $#warnings)]);
note(sprintf('the test took %.1f s', time - $t_start));

done_testing();
