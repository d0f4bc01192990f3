# The cluster gate under load (issue 19 item 6, doc/cluster.md): three
# sluices in one cluster, two sharing a TCP port (so_reuseport) and one on
# its own, clients of test/integ/c/gate_bank.c spread over them moving
# money with named prepared statements, and three `sluicectl migrate app
# --cluster` windows, each through another member (the second changes the
# type of the column the prepared UPDATE ... RETURNING reads, and
# terminates member 3's coordination connection while the window is
# closed). Then: zero client errors, money neither made nor lost, the
# clients' commit count equals PostgreSQL's, and no transfer commits while
# a cluster window is closed (track_commit_timestamp against the window's
# closed and ended times in the coordination database, both PostgreSQL's
# clock). Last, kill -9 of member 2 during a closed fourth window while
# clients connect, work and disconnect through the shared port
# (reconnect_loop): the window ends with the others, member 2 is dead in
# the summary, and the clients go on through the survivor.
#
# make check runs it short (60 clients, 20 s); `make cluster-proof` runs
# it as issue 19 asks (SLUICE_CLUSTER_PROOF=full: 200 clients, 40 s).
use strict;
use warnings;
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(run_cmd wait_for slurp spit free_port);
use SluiceTest::Cluster qw(coord_setup member console peers_by_id gate_of);

my $full = ($ENV{SLUICE_CLUSTER_PROOF} // '') eq 'full';
my ($NCLIENTS, $SECONDS, $NACCOUNTS, $BALANCE) = $full ? (200, 40, 100, 1000) : (60, 20, 100, 1000);

my $CTL = $ENV{SLUICECTL_BIN} // abs_path("$FindBin::Bin/../../sluicectl");
plan skip_all => "sluicectl not built: run make" unless $CTL && -x $CTL;
my $driver = SluiceTest::c_test_program('gate_bank');
plan skip_all => 'gate_bank not built: run make' unless $driver;

my $pg = SluiceTest::Pg->new(conf => ['track_commit_timestamp = on', 'max_connections = 200']);
$pg->create_role('app', 'app_pw');
$pg->create_role('migrator', 'mig_pw');
$pg->create_db('app', 'migrator');
$pg->safe_psql('postgres', 'GRANT pg_signal_backend TO migrator');
$pg->safe_psql('app', <<"SQL", user => 'migrator', password => 'mig_pw', host => 'tcp');
CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
INSERT INTO accounts SELECT g, $BALANCE FROM generate_series(1, $NACCOUNTS) g;
CREATE TABLE history (id bigserial PRIMARY KEY, client int NOT NULL, seq int NOT NULL,
                      src int NOT NULL, dst int NOT NULL, amount int NOT NULL,
                      xact_start timestamptz NOT NULL, at timestamptz NOT NULL, UNIQUE (client, seq));
CREATE TABLE mig_log (tag text, phase text, at timestamptz NOT NULL, PRIMARY KEY (tag, phase));
GRANT SELECT, UPDATE ON accounts TO app;
GRANT SELECT, INSERT ON history TO app;
GRANT USAGE ON SEQUENCE history_id_seq TO app;
SQL
my $dsn = coord_setup($pg);

my $shared = free_port();
my %common = (pg => $pg, dsn => $dsn, users => { migrator => 'mig_pw' });
my %set = (default_pool_size => 10, max_client_conn => 400, gate_bypass_users => 'migrator',
	   query_wait_timeout => 60, gate_drain_timeout => 10);
my %sl;
$sl{1} = member(%common, id => 1, settings => { %set, so_reuseport => 1, listen_port => $shared });
$sl{2} = member(%common, id => 2, settings => { %set, so_reuseport => 1, listen_port => $shared });
$sl{3} = member(%common, id => 3, settings => \%set);
$sl{3}->expect_log(qr/lost the coordination connection/, qr/coordination connection lost in window/,
		   qr/the coordination server says: FATAL/);
ok(wait_for(sub { 3 == grep { $_->{state} eq 'alive' } values %{ peers_by_id(console($sl{1})) } },
	    timeout => 20), 'three live members');

my $dir = SluiceTest::new_tempdir('clusterload');
my %ddl = (
	1 => 'ALTER TABLE history ADD COLUMN note text;',
	2 => "ALTER TABLE accounts ALTER COLUMN balance TYPE bigint;\n"
	   . "DO \$\$ BEGIN PERFORM pg_terminate_backend(pid) FROM pg_stat_activity "
	   . "WHERE application_name = 'sluice cluster peer 3'; END \$\$;",
	3 => 'CREATE INDEX history_src ON history (src);',
);
for my $k (1 .. 3) {
	spit("$dir/m$k.sql", <<"SQL");
INSERT INTO mig_log VALUES ('m$k', 'start', clock_timestamp());
$ddl{$k}
DO \$\$ BEGIN PERFORM pg_sleep(0.5); END \$\$;
INSERT INTO mig_log VALUES ('m$k', 'end', clock_timestamp());
SQL
}

# two drivers: two thirds of the clients through the shared port (the
# kernel spreads them over members 1 and 2), a third through member 3
my %drv = (a => { n => int($NCLIENTS * 2 / 3), port => $shared, base => 0 },
	   b => { n => $NCLIENTS - int($NCLIENTS * 2 / 3), port => $sl{3}->port, base => 100000 });
my $t_start = time;
for my $d (sort keys %drv) {
	mkdir "$dir/$d";
	my $cs = "host=127.0.0.1 port=$drv{$d}{port} dbname=app user=app password=app_pw";
	$drv{$d}{pid} = SluiceTest::spawn([ SluiceTest::with_nofile(4096, $driver, $cs, $drv{$d}{n}, $SECONDS,
							  $NACCOUNTS, "$dir/$d", $drv{$d}{base}) ],
		env => { PGGSSENCMODE => 'disable' }, stdout => "$dir/$d.out", stderr => "$dir/$d.err");
}
ok(wait_for(sub { -e "$dir/a/ready" && -e "$dir/b/ready" }, timeout => 60),
   "$NCLIENTS clients connected and prepared their statements")
    or diag(join '', map { slurp("$dir/$_.out") . slurp("$dir/$_.err") } 'a', 'b');
my $t_ready = time;
sub pg_value { $pg->safe_psql('app', $_[0]) }
my $spacing = $SECONDS / 5;   # windows at 1/5, 2/5 and 3/5 of the run

my $seen = 0;
for my $k (1 .. 3) {
	wait_for(sub { time >= $t_ready + $spacing * $k && pg_value('SELECT count(*) FROM history') >= $seen + 200 },
		 timeout => $spacing * $k + 20);
	$seen = pg_value('SELECT count(*) FROM history');
	my $t0 = time;
	my ($out, $err, $rc) = run_cmd(
		[ $CTL, '-h', $sl{$k}->sockdir, '-p', $sl{$k}->port, '-U', 'admin', 'migrate', 'app', '--cluster',
		  '--timeout', '10', '--', SluiceTest::psql_bin(), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		  '-f', "$dir/m$k.sql" ],
		env => { SLUICECTL_PASSWORD => 'admin_pw', PGPASSWORD => 'mig_pw', PGUSER => 'migrator' },
		timeout => 60);
	is($rc, 0, sprintf('window %d: sluicectl migrate app --cluster through member %d exits 0 (%.2f s)',
			   $k, $k, time - $t0)) or diag($out . $err);
	like($out, qr/^\s+$_\s+\S+\s+alive\s+closed\s/m, "window $k: member $_ took part") for 1 .. 3;
	note("window $k: $out");
}
ok(wait_for(sub { $sl{3}->log_contents =~ /coordination connection lost in window \d+: the gate of app stays closed/ },
	    timeout => 5), "member 3's coordination connection was terminated inside the second window");
for my $d (sort keys %drv) {
	ok(kill(0, $drv{$d}{pid}) && !-e "$dir/$d/result", "driver $d was still running after the third window");
}

my ($committed, $errors) = (0, 0);
for my $d (sort keys %drv) {
	my $st = SluiceTest::wait_pid($drv{$d}{pid}, $SECONDS + 90);
	is(SluiceTest::exit_code($st), 0, "driver $d exited 0") or diag(slurp("$dir/$d.err"));
	my ($c, $e) = slurp("$dir/$d/result") =~ /committed (\d+) errors (\d+)/;
	$committed += $c // 0;
	$errors += $e // 1;
	for my $line (split /\n/, slurp("$dir/$d.out")) {
		if ($line =~ /^(not )?ok\s+\d+\s*-\s*(.*)$/) { ok(!$1, "gate_bank $d: $2") }
	}
}
is($errors, 0, 'zero client errors');
cmp_ok($committed, '>', 3 * $NCLIENTS, "many transfers committed ($committed)");
is(pg_value('SELECT sum(balance) FROM accounts'), $NACCOUNTS * $BALANCE, 'the total balance is unchanged');
is(pg_value('SELECT count(*) FROM history'), $committed, "the clients' commit count equals PostgreSQL's");
is(pg_value(q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'balance'}),
   'bigint', 'the second migration changed balance to bigint under the prepared statements');

# the cluster windows, as the coordination database recorded them
my @win = map { [ split /\|/ ] } grep { /\S/ } split /\n/, $pg->safe_psql('coord', q{
	SELECT number, extract(epoch FROM closed), extract(epoch FROM ended), state, reason
	FROM sluice_cluster.windows WHERE cluster = 'test' ORDER BY number});
is(scalar @win, 3, 'three cluster windows');
for my $w (@win) {
	my ($n, $closed, $ended, $state, $reason) = @$w;
	ok($closed && $ended > $closed, "window $n: closed, then ended ($state, $reason)");
	is(pg_value(qq{SELECT count(*) FROM history WHERE pg_xact_commit_timestamp(xmin)
		BETWEEN to_timestamp($closed) AND to_timestamp($ended)}), 0,
	   sprintf('window %d: no transfer committed while it was closed (%.3f s)', $n, $ended - $closed));
}
for my $k (1 .. 3) {
	is(pg_value(qq{SELECT count(*) FROM history, mig_log s, mig_log e
		WHERE s.tag = 'm$k' AND s.phase = 'start' AND e.tag = 'm$k' AND e.phase = 'end'
		AND history.xact_start <= e.at AND pg_xact_commit_timestamp(history.xmin) >= s.at}), 0,
	   "migration $k: no transfer's transaction overlaps it");
}
is(pg_value(q{SELECT count(*) FROM history WHERE pg_xact_commit_timestamp(xmin) IS NULL}), 0,
   'PostgreSQL has every transfer\'s commit time');
# ---- kill -9 of member 2 inside a closed window, clients reconnecting
my $loop = SluiceTest::c_test_program('reconnect_loop');
$pg->safe_psql('app', 'CREATE TABLE hits (client int, n int); GRANT INSERT, SELECT ON hits TO app',
	       user => 'migrator', password => 'mig_pw', host => 'tcp');
spit("$dir/m4.sql", "INSERT INTO mig_log VALUES ('m4', 'start', clock_timestamp());\n"
     . "DO \$\$ BEGIN PERFORM pg_sleep(6); END \$\$;\n"
     . "INSERT INTO mig_log VALUES ('m4', 'end', clock_timestamp());\n");
my $lpid = SluiceTest::spawn([ $loop, "host=127.0.0.1 port=$shared dbname=app user=app password=app_pw", 10,
			       "$dir/loop.ready", "$dir/loop.stop", 120 ],
			     env => { PGGSSENCMODE => 'disable' }, stdout => "$dir/loop.out", stderr => "$dir/loop.err");
ok(wait_for(sub { -e "$dir/loop.ready" }, timeout => 30), 'reconnecting clients run through the shared port');
my $mpid = SluiceTest::spawn(
	[ $CTL, '-h', $sl{1}->sockdir, '-p', $sl{1}->port, '-U', 'admin', 'migrate', 'app', '--cluster',
	  '--timeout', '10', '--', SluiceTest::psql_bin(), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$dir/m4.sql" ],
	env => { SLUICECTL_PASSWORD => 'admin_pw', PGPASSWORD => 'mig_pw', PGUSER => 'migrator' },
	stdout => "$dir/m4.out", stderr => "$dir/m4.err");
ok(wait_for(sub { $pg->safe_psql('coord', "SELECT count(*) FROM sluice_cluster.windows WHERE number = 4 "
				 . "AND state = 'closed'") == 1 }, timeout => 20), 'the fourth window is closed');
SluiceTest::Cluster::kill9($sl{2});
my $st4 = SluiceTest::wait_pid($mpid, 60);
is(SluiceTest::exit_code($st4), 0, 'member 2 killed in the window: migrate --cluster through member 1 exits 0')
    or diag(slurp("$dir/m4.out") . slurp("$dir/m4.err"));
like(slurp("$dir/m4.out"), qr/^\s+2\s+\S+\s+dead\s/m, 'its summary shows member 2 dead');
like(slurp("$dir/m4.out"), qr/^\s+1\s+\S+\s+alive\s+closed\s/m, '... and member 1 closed');
my $after_kill = pg_value('SELECT count(*) FROM hits');
ok(wait_for(sub { pg_value('SELECT count(*) FROM hits') > $after_kill + 50 }, timeout => 20),
   'the reconnecting clients go on through the survivor');
spit("$dir/loop.stop", '');
SluiceTest::wait_pid($lpid, 30);
# the connections member 2 held when it was killed fail (kill -9): said,
# not counted; the clients reconnect through the shared port
my $lout = slurp("$dir/loop.out");
my ($cf) = $lout =~ /no connection failed\s*\n?#\s*got (\d+)/;
my ($qf) = $lout =~ /no query failed\s*\n?#\s*got (\d+)/;
my ($rounds) = $lout =~ /(\d+) rounds/;
note(sprintf('reconnecting clients: %s rounds; at the kill of member 2, %d connects and %d queries failed',
	     $rounds // '?', $cf // 0, $qf // 0));
is(gate_of(console($sl{$_}), 'app')->{state}, 'open', "member $_: open after the window") for 1, 3;

my %per = map { ($_ => scalar(() = $sl{$_}->log_contents =~ /login ok/g)) } 1 .. 3;   # member 2's log outlives it
ok($per{1} && $per{2} && $per{3}, "clients logged in to every member ($per{1}, $per{2}, $per{3})");
note(sprintf('%d clients, %d s, %d transfers; the test took %.1f s', $NCLIENTS, $SECONDS, $committed,
	     time - $t_start));

done_testing();
