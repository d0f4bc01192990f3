# sluicectl (doc/migrations.md): pause, resume and status; migrate runs a
# psql migration through the bypass route while application work is held,
# passes the command's exit status through and reopens the gate whatever
# happened; a drain-deadline failure does not run the command; SIGTERM
# during the command and SIGINT during the drain reopen the gate; usage
# and login errors have their exit codes.
use strict;
use warnings;
use Cwd qw(abs_path);
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time sleep);
use SluiceTest qw(run_cmd spawn wait_for slurp spit);

my $CTL = $ENV{SLUICECTL_BIN} // abs_path("$FindBin::Bin/../../sluicectl");
plan skip_all => "sluicectl not built ($CTL): run make" unless $CTL && -x $CTL;
my $PSQL = SluiceTest::psql_bin();

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_role('migrator', 'mig_pw');
$pg->create_db('app', 'migrator');
$pg->safe_psql('app', <<'SQL', user => 'migrator', password => 'mig_pw', host => 'tcp');
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t VALUES (1, 10);
CREATE TABLE mig_log (id serial PRIMARY KEY, tag text, phase text, at float8, who text, app text);
GRANT SELECT, INSERT, UPDATE ON t TO app;
SQL
my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw', admin => 'admin_pw', migrator => 'mig_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
		      default_pool_size => 2, gate_bypass_users => 'migrator' },
	default_user => 'app',
);
my $dir = SluiceTest::new_tempdir('ctl');
my @stderrs;    # every sluicectl stderr, searched for sanitizer reports at the end

my @conn = ('-h', '127.0.0.1', '-p', $sl->port, '-U', 'admin');
my %env = (SLUICECTL_PASSWORD => 'admin_pw', PGPASSWORD => 'mig_pw', PGUSER => 'migrator');

# sluicectl ARGS... -> (stdout, stderr, exit code)
sub ctl
{
	my ($args, %o) = @_;
	my ($out, $err, $rc) = run_cmd([ $CTL, @conn, @$args ], env => { %env, %{ $o{env} // {} } },
				       timeout => $o{timeout} // 60, cwd => $dir);
	push @stderrs, $err;
	return ($out, $err, $rc);
}
# sluicectl in the background: its pid; output in $dir/$tag.out / .err
sub ctl_spawn
{
	my ($tag, @args) = @_;
	return spawn([ $CTL, @conn, @args ], env => \%env, cwd => $dir,
		     stdout => "$dir/$tag.out", stderr => "$dir/$tag.err");
}
sub console { $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer') }
sub app { $sl->proto(user => 'app', password => 'app_pw', dbname => 'app') }
sub send_query { my ($c, $sql) = @_; $c->send(SluiceTest::Proto::msg('Q', "$sql\0")) }
my $adm = console();
sub gate
{
	my $r = $adm->query('SHOW GATES');
	for my $row (@{ $r->{rows} }) {
		my %h = map { ($r->{columns}[$_] => $row->[$_]) } 0 .. $#$row;
		return \%h if $h{database} eq 'app';
	}
	return {};
}
sub pg_value { $pg->safe_psql('app', $_[0]) }

# ---- help, usage, login ----
{
	my ($out, $err, $rc) = ctl(['--help']);
	is($rc, 0, '--help exits 0');
	like($out, qr/migrate DB .*-- COMMAND/s, '--help shows the usage');
	like($out, qr/exit status:.*\n\s+75\s.*drain deadline/s, '--help lists the exit codes');
	for my $case ([ [], 'no command' ], [ ['pause'], 'pause without a database' ],
		      [ [ 'migrate', 'app' ], 'migrate without a command' ],
		      [ [ 'pause', 'app', '--timeout', 'soon' ], 'a bad --timeout' ],
		      [ [ 'pause', 'a;b' ], 'a database name the console cannot take' ],
		      [ [ 'frobnicate', 'app' ], 'an unknown command' ],
		      [ [ 'status', '--bogus' ], 'an unknown option' ]) {
		($out, $err, $rc) = ctl($case->[0]);
		is($rc, 64, "usage error ($case->[1]): exit 64");
	}
	like($err, qr/unknown option --bogus/, '... with a message');
	$sl->expect_log(qr/ pgbouncer\/admin\S+ pooler error: password authentication failed for user "admin" \(sqlstate=28P01\)/,
			qr/ pgbouncer\/app\S+ pooler error: user "app" is not allowed to use the admin console \(sqlstate=28000\)/);
	($out, $err, $rc) = ctl(['status'], env => { SLUICECTL_PASSWORD => 'wrong' });
	is($rc, 69, 'a failed console login: exit 69');
	like($err, qr/cannot log in to the sluice console .*password authentication failed/s, '... saying why');
	($out, $err, $rc) = ctl([ '-U', 'app', 'status' ], env => { SLUICECTL_PASSWORD => 'app_pw' });
	is($rc, 69, 'a user outside admin_users cannot log in: exit 69');
}

# ---- status, pause, resume ----
{
	my ($out, $err, $rc) = ctl(['status']);
	is($rc, 0, 'status exits 0');
	like($out, qr/^app\s+open\s/m, 'status: app is open');
	my $b = app();
	is($b->query_value('SELECT 1'), 1, 'an application client');
	($out, $err, $rc) = ctl([ 'pause', 'app' ]);
	is($rc, 0, 'pause app exits 0') or diag($err);
	my ($w) = $out =~ /app paused \(window (\d+)\)/;
	ok($w, "pause prints the window ($out)");
	is(gate()->{state}, 'closed', 'SHOW GATES: closed');
	send_query($b, 'SELECT 2');
	is($b->read_results(0.5)->{lost}, 'timed out', 'application work is held');
	($out, $err, $rc) = ctl([ 'status', 'app' ]);
	like($out, qr/^app\s+closed\s+.*\s$w\s+1\s+0\s+0$/m, 'status: closed, the window, one client held');
	($out, $err, $rc) = ctl([ 'resume', 'app' ]);
	is($rc, 0, 'resume app exits 0') or diag($err);
	is($b->read_results(10)->{rows}[0][0], 2, 'the held work runs');
	like($out, qr/window $w of app:\n.*held clients\s+1\n\s+longest hold\s+[\d.]+ s/s, 'resume prints the window summary');
	# the refusals below, and drain deadlines that pass (here and in migrate)
	$sl->expect_log(qr/ pgbouncer\/admin\S+ pooler error: database app is not paused \(sqlstate=55000\)/,
			qr/ pgbouncer\/admin\S+ pooler error: no such database: nosuchdb \(sqlstate=3D000\)/,
			qr/WARNING database app: drain deadline passed; gate reopened \(window \d+\)\. Still running:/,
			qr/ pgbouncer\/admin\S+ pooler error: PAUSE app: the drain deadline passed; the gate reopened \(window \d+\) \(sqlstate=55P03\)/);
	($out, $err, $rc) = ctl([ 'resume', 'app' ]);
	is($rc, 1, 'resume of an open gate: exit 1');
	like($err, qr/not paused/, '... sluice says it is not paused');
	($out, $err, $rc) = ctl([ 'pause', 'nosuchdb' ]);
	is($rc, 1, 'pause of an unknown database: exit 1');
	like($err, qr/no such database/, '... saying so');
	$b->query('BEGIN');
	$b->query('SELECT 3 AS pause_marker');
	($out, $err, $rc) = ctl([ 'pause', 'app', '--timeout', '0.5' ]);
	is($rc, 75, 'pause with a transaction outlasting --timeout: exit 75');
	like($err, qr/drain deadline passed.*still running.*idle in transaction, query: SELECT 3 AS pause_marker/s,
	     '... printing what still ran') or diag($err);
	is(gate()->{state}, 'open', '... and the gate is open');
	$b->query('COMMIT');
	$b->terminate;
}

# ---- migrate: psql -f through the bypass route while an application client is held ----
{
	spit("$dir/m1.sql", <<'SQL');
INSERT INTO mig_log (tag, phase, at, who, app)
  VALUES ('m1', 'start', extract(epoch FROM clock_timestamp()), current_user, current_setting('application_name'));
ALTER TABLE t ADD COLUMN note text;
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('0001');
GRANT SELECT ON alembic_version TO app;
DO $$ BEGIN PERFORM pg_sleep(1); END $$;
INSERT INTO mig_log (tag, phase, at) VALUES ('m1', 'end', extract(epoch FROM clock_timestamp()));
SQL
	my $b = app();
	$b->query('SELECT 1');
	my $pid = ctl_spawn('m1', 'migrate', 'app', '--', $PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', 'm1.sql');
	ok(wait_for(sub { pg_value(q{SELECT count(*) FROM mig_log WHERE tag = 'm1'}) > 0 }, timeout => 20),
	   'migrate: the migration started');
	send_query($b, 'SELECT extract(epoch FROM now())');
	my $st = SluiceTest::wait_pid($pid, 30);
	is(SluiceTest::exit_code($st), 0, 'migrate exits 0 when the command did') or diag(slurp("$dir/m1.err"));
	my $r = $b->read_results(10);
	ok(!@{ $r->{errors} }, 'the held application query got no error');
	my $end = pg_value(q{SELECT at FROM mig_log WHERE tag = 'm1' AND phase = 'end'});
	cmp_ok($r->{rows}[0][0], '>', $end, "its transaction began after the migration ended (PostgreSQL time)");
	is(pg_value(q{SELECT who || ' ' || app FROM mig_log WHERE tag = 'm1' AND phase = 'start'}),
	   'migrator sluicectl-migrate', 'the migration ran as the bypass user, application_name sluicectl-migrate');
	is(pg_value(q{SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'note'}),
	   1, 'the migration was applied');
	is(gate()->{state}, 'open', 'the gate is open afterwards');
	my $out = slurp("$dir/m1.out");
	like($out, qr/window \d+ of app:/, 'migrate prints the window summary') or diag($out);
	like($out, qr/drain time\s+[\d.]+ s\n\s+closed time\s+[\d.]+ s\n\s+held clients\s+1\n/, '... drain, closed time, held clients');
	my ($hold) = $out =~ /longest hold\s+([\d.]+) s/;
	cmp_ok($hold // 0, '>', 0.3, "... and the longest hold ($hold s)");
	like($out, qr/schema\s+\? -> alembic 0001\n/, '... and the schema version before (none: ?) and after');
	$b->terminate;
}

# ---- migrate: DATABASE_URL and the PG* variables the command gets ----
{
	my $sh = 'env | grep -E "^(PG|DATABASE_URL=|SLUICECTL_PASSWORD=)" | sort > env.txt; '
	    . qq{exec "\$0" "\$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO mig_log (tag, who, app) }
	    . qq{VALUES ('url', current_user, current_setting('application_name'))"};
	my ($out, $err, $rc) = ctl([ 'migrate', 'app', '--', '/bin/sh', '-c', $sh, $PSQL ]);
	is($rc, 0, 'migrate with a command using $DATABASE_URL') or diag($err);
	is(pg_value(q{SELECT who || ' ' || app FROM mig_log WHERE tag = 'url'}), 'migrator sluicectl-migrate',
	   'DATABASE_URL leads to the bypass route');
	my $port = $sl->port;
	is(slurp("$dir/env.txt"), <<"ENV", 'the command gets DATABASE_URL and PGHOST/PGPORT/PGDATABASE/PGUSER/PGAPPNAME, not the console password');
DATABASE_URL=postgresql://migrator:mig_pw\@127.0.0.1:$port/app?application_name=sluicectl-migrate
PGAPPNAME=sluicectl-migrate
PGDATABASE=app
PGHOST=127.0.0.1
PGPASSWORD=mig_pw
PGPORT=$port
PGUSER=migrator
ENV
}

# ---- migrate: the command's exit status, and the gate opens whatever happened ----
{
	my $w0 = gate()->{last_window};
	my ($out, $err, $rc) = ctl([ 'migrate', 'app', '--', '/bin/sh', '-c', 'exit 3' ]);
	is($rc, 3, 'a command exiting 3: migrate exits 3');
	like($err, qr/the command failed \(exit status 3\)/, '... saying so');
	is(gate()->{state}, 'open', '... and the gate is open');
	cmp_ok(gate()->{last_window}, '>', $w0, '... after a window of its own');
	spit("$dir/bad.sql", "ALTER TABLE no_such_table ADD COLUMN x int;\n");
	($out, $err, $rc) = ctl([ 'migrate', 'app', '--', $PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', 'bad.sql' ]);
	is($rc, 3, 'a failing psql migration: psql\'s exit status 3 passed through');
	like($err, qr/no_such_table.*does not exist/s, '... with psql\'s error');
	is(gate()->{state}, 'open', '... and the gate is open');
	($out, $err, $rc) = ctl([ 'migrate', 'app', '--', "$dir/no-such-program" ]);
	is($rc, 127, 'a command that does not exist: exit 127');
	is(gate()->{state}, 'open', '... and the gate is open');
	($out, $err, $rc) = ctl([ 'migrate', 'app', '--', '/bin/sh', '-c', 'kill -KILL $$' ]);
	is($rc, 128 + 9, 'a command killed by SIGKILL: exit 137');
	is(gate()->{state}, 'open', '... and the gate is open');
}

# ---- migrate: refusals that leave the gate alone and run nothing ----
{
	my $w0 = gate()->{last_window};
	my ($out, $err, $rc) = ctl([ 'migrate', 'app', '--user', 'app', '--', '/bin/sh', '-c', 'touch ran.nobypass' ]);
	is($rc, 78, 'migrate as a user that is not a bypass: exit 78');
	like($err, qr/not in gate_bypass_users/, '... saying why');
	ok(!-e "$dir/ran.nobypass", '... the command did not run');
	is(gate()->{last_window}, $w0, '... and no window was opened');
	($out, $err, $rc) = ctl([ 'pause', 'app' ]);
	($out, $err, $rc) = ctl([ 'migrate', 'app', '--', '/bin/sh', '-c', 'touch ran.paused' ]);
	is($rc, 1, 'migrate of a database already paused: exit 1');
	like($err, qr/already paused/, '... saying so');
	ok(!-e "$dir/ran.paused", '... the command did not run');
	is(gate()->{state}, 'closed', '... and the other window stays');
	ctl([ 'resume', 'app' ]);
}

# ---- migrate: the drain deadline passes, the command does not run ----
{
	my $a = app();
	$a->query('BEGIN');
	$a->query('SELECT 42 AS long_running_marker');
	my $t0 = time;
	my ($out, $err, $rc) = ctl([ 'migrate', 'app', '--timeout', '1', '--', '/bin/sh', '-c', 'touch ran.deadline' ]);
	is($rc, 75, 'migrate whose drain deadline passes: exit 75');
	cmp_ok(time - $t0, '>=', 0.9, '... after the deadline');
	like($err, qr/drain deadline passed; the gate reopened.*still running.*query: SELECT 42 AS long_running_marker.*the command was not run/s,
	     '... with the report of what still ran') or diag($err);
	ok(!-e "$dir/ran.deadline", '... and the command did not run');
	is(gate()->{state}, 'open', '... the gate is open');
	is($a->query('COMMIT')->{status}, 'I', 'the long transaction was not disturbed');
	$a->terminate;
}

# ---- SIGINT while the drain waits: the gate reopens, the command does not run ----
{
	my $a = app();
	$a->query('BEGIN');
	$a->query('SELECT 1');
	$sl->expect_log(qr/ pgbouncer\/admin\S+ pooler error: PAUSE was cancelled: the gate reopened \(sqlstate=57014\)/);
	my $pid = ctl_spawn('int', 'migrate', 'app', '--timeout', '30', '--', '/bin/sh', '-c', 'touch ran.int');
	ok(wait_for(sub { (gate()->{state} // '') eq 'draining' }, timeout => 20), 'migrate waits for the drain');
	kill 'INT', $pid;
	my $st = SluiceTest::wait_pid($pid, 20);
	is(SluiceTest::exit_code($st), 130, 'SIGINT during the drain: exit 130');
	ok(wait_for(sub { gate()->{state} eq 'open' }, timeout => 5), '... the gate is open');
	ok(!-e "$dir/ran.int", '... the command did not run');
	like(slurp("$dir/int.err"), qr/Interrupt while PAUSE app waited.*command was not run/s, '... and it says so');
	is($a->query('COMMIT')->{status}, 'I', 'the transaction goes on');
	$a->terminate;
}

# ---- SIGTERM during a long command: passed on, the gate reopens ----
{
	my $b = app();
	$b->query('SELECT 1');
	my $pid = ctl_spawn('term', 'migrate', 'app', '--', $PSQL, '-X', '-q', '-c', 'SELECT pg_sleep(20)');
	ok(wait_for(sub { pg_value(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'migrator' AND query LIKE '%pg_sleep(20)%'}) > 0 },
		    timeout => 20), 'a long migration runs');
	send_query($b, 'SELECT 12');
	is($b->read_results(0.3)->{lost}, 'timed out', 'application work is held');
	my $t0 = time;
	kill 'TERM', $pid;
	my $st = SluiceTest::wait_pid($pid, 20);
	is(SluiceTest::exit_code($st), 128 + 15, 'SIGTERM: the command was killed by it, migrate exits 143');
	cmp_ok(time - $t0, '<', 10, '... soon');
	my $err = slurp("$dir/term.err");
	like($err, qr/passed it on to the command.*resumed/s, '... after passing it on and resuming') or diag($err);
	is($b->read_results(10)->{rows}[0][0], 12, 'the held work runs');
	is(gate()->{state}, 'open', 'the gate is open');
	$b->terminate;
	$pg->safe_psql('app', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()});
}

my @san = grep { /AddressSanitizer|LeakSanitizer|runtime error:/ } @stderrs, map { slurp($_) } glob("$dir/*.err");
ok(!@san, 'sluicectl: no sanitizer report') or diag(@san);
$adm->terminate;

done_testing();
