# Prepared statements in transaction mode as real clients use them by
# default (issue 13, points 1 to 3):
#   a. psycopg's pipelined executemany with a 1,000,000-character value,
#      ten rounds, over a pool of 5: it once hung when a large Bind filled
#      the output to the server past its high-water mark;
#   b. pgbench -M prepared with more clients than servers and one thread:
#      the synchronous Parse + Sync of a statement the pool knows is
#      answered by sluice without a server, so nothing waits on a client
#      that cannot send;
#   c. on the wire, over a pool of one held by another client: Parse,
#      Describe and Close of a known statement, Flush and Sync are answered
#      without a server, with PostgreSQL's own ParameterDescription and
#      RowDescription; an unknown statement waits for a server;
#   d. a column's type changed, a column dropped or added under select *,
#      in a gate window and before a RECONNECT, in transaction and session
#      mode: asyncpg (binary results, cached row descriptions) and
#      node-postgres get the new rows or 0A000 that they recover from --
#      never bytes of the old shape.
#
# Needs Debian's /usr/bin/python3 with python3-asyncpg and python3-psycopg,
# pgbench, node and test/integ/js's node_modules (npm ci, as in
# 15-client-libraries.t).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd);
use SluiceTest::Proto qw(msg);

my $PYTHON = $ENV{SLUICE_TEST_PYTHON} // '/usr/bin/python3';
my $PYDIR = "$FindBin::Bin/py";
my $JSDIR = "$FindBin::Bin/js";

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_role('migrator', 'mig_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', 'ALTER ROLE migrator SUPERUSER');
{
	my ($out, $err, $rc) = run_cmd(
		[ SluiceTest::Pg::bindir() . '/pgbench', '-i', '-q', '-s', '1', '-h', $pg->host, '-p', $pg->port,
		  '-U', 'app', 'app' ], env => { PGPASSWORD => 'app_pw' }, timeout => 60);
	die "pgbench -i failed ($rc):\n$err" if $rc != 0;
}

my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => { app => $pg->connstr('app'),
		       one => $pg->connstr('app') . ' pool_size=1',
		       appsess => $pg->connstr('app') . ' pool_mode=session' },
	users => { app => 'app_pw', migrator => 'mig_pw', admin => 'admin_pw' },
	settings => { auth_type => 'scram-sha-256', pool_mode => 'transaction', default_pool_size => 5,
		      max_prepared_statements => 200, query_wait_timeout => 60, admin_users => 'admin',
		      gate_bypass_users => 'migrator' },
	default_user => 'app', default_password => 'app_pw',
);

sub env_for
{
	my ($db) = @_;
	return { PGHOST => $sl->host, PGPORT => $sl->port, PGUSER => 'app', PGPASSWORD => 'app_pw',
		 PGDATABASE => $db // 'app', PGGSSENCMODE => 'disable', PGCONNECT_TIMEOUT => 30 };
}

# ---- a. psycopg pipeline with large values ----
{
	my ($out, $err, $rc) = run_cmd([ $PYTHON, "$PYDIR/psycopg_pipeline.py", '--rounds', 10 ],
				       env => env_for('app'), timeout => 120);
	is($rc, 0, 'psycopg executemany in pipeline mode, 1 MB values, 10 rounds: no hang, no error')
	    or diag("$out$err");
	like($out, qr/^pipeline: OK 10 rounds$/m, 'psycopg: every value read back as written');
}

# ---- b. pgbench -M prepared, more clients than servers, one thread ----
for my $case ([ 6, 1 ], [ 20, 1 ], [ 20, 2 ]) {
	my ($c, $j) = @$case;
	my ($out, $err, $rc) = run_cmd(
		[ SluiceTest::Pg::bindir() . '/pgbench', '-n', '-M', 'prepared', '-c', $c, '-j', $j, '-t', 50,
		  '-h', $sl->host, '-p', $sl->port, '-U', 'app', 'app' ],
		env => { PGPASSWORD => 'app_pw' }, timeout => 90);
	is($rc, 0, "pgbench -M prepared -c $c -j $j over a pool of 5 finishes") or diag("$out$err");
	my $want = $c * 50;
	like($out, qr/actually processed: $want\/$want/, "pgbench -c $c -j $j: all $want transactions");
}

# ---- c. answers without a server ----
sub parse_msg { my ($name, $q) = @_; return msg('P', "$name\0$q\0" . pack('n', 0)) }
sub describe_msg { my ($name) = @_; return msg('D', "S$name\0") }
sub close_msg { my ($name) = @_; return msg('C', "S$name\0") }
sub read_types
{
	my ($c, $n, $timeout) = @_;
	my (@types, @bodies);
	for (1 .. $n) {
		my ($t, $b) = $c->read_msg($timeout);
		last unless defined $t;
		push @types, $t;
		push @bodies, $b;
	}
	return (join('', @types), \@bodies);
}
{
	my $q = 'SELECT aid, abalance FROM pgbench_accounts WHERE aid = $1';
	# PostgreSQL's own description, directly
	my $d = $pg->proto(user => 'app', password => 'app_pw', db => 'app');
	$d->send(parse_msg('s', $q) . describe_msg('s') . msg('S'));
	my ($pg_types, $pg_bodies) = read_types($d, 4, 10);
	is($pg_types, '1tTZ', 'PostgreSQL: Parse, Describe, Sync');
	$d->terminate;

	# a client of pool "one" makes the statement known, then leaves
	my $a = $sl->proto(user => 'app', password => 'app_pw', dbname => 'one');
	$a->send(parse_msg('first', $q) . describe_msg('first') . msg('S'));
	is((read_types($a, 4, 10))[0], '1tTZ', 'a client prepares and describes a statement');
	$a->terminate;

	# another holds the pool's only server in a transaction
	my $h = $sl->proto(user => 'app', password => 'app_pw', dbname => 'one');
	is($h->query('BEGIN')->{status}, 'T', 'a client holds the only server (BEGIN)');

	my $b = $sl->proto(user => 'app', password => 'app_pw', dbname => 'one');
	$b->send(parse_msg('mine', $q) . describe_msg('mine') . msg('H') . msg('S'));
	my ($types, $bodies) = read_types($b, 4, 5);
	is($types, '1tTZ', 'Parse, Describe, Flush, Sync of a known statement: answered with no server free');
	is($bodies->[1], $pg_bodies->[1], '... ParameterDescription as PostgreSQL gives it');
	is($bodies->[2], $pg_bodies->[2], '... RowDescription as PostgreSQL gives it');
	is($bodies->[3], 'I', '... ReadyForQuery idle');
	$b->send(close_msg('mine') . msg('S'));
	is((read_types($b, 2, 5))[0], '3Z', 'Close and Sync answered too');

	$b->send(parse_msg('other', 'SELECT 42') . msg('S'));
	my ($t1) = read_types($b, 1, 1);
	is($t1, '', 'a Parse of an unknown statement waits for a server');
	is($h->query('COMMIT')->{status}, 'I', 'the holder commits');
	my ($t2) = read_types($b, 2, 10);
	is($t2, '1Z', '... then the Parse is answered by PostgreSQL');
	$b->send(msg('B', "\0other\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
	my ($t3, $b3) = read_types($b, 4, 10);
	is($t3, '2DCZ', 'and executes');
	$b->terminate;
	$h->terminate;
}

# ---- d. schema changes under cached statements ----
{
	my $have_node = -d "$JSDIR/node_modules/pg";
	if (!$have_node) {
		my ($out, $err, $rc) = run_cmd([ 'npm', 'ci', '--no-audit', '--no-fund' ], cwd => $JSDIR,
					       timeout => 300);
		$have_node = $rc == 0 && -d "$JSDIR/node_modules/pg";
		diag("npm ci in $JSDIR failed (rc $rc):\n$out$err") unless $have_node;
	}
	my $url = sub { my ($u, $p, $db) = @_; sprintf('postgresql://%s:%s@%s:%d/%s', $u, $p, $sl->host, $sl->port, $db) };
	for my $db ('app', 'appsess') {
		my $mode = $db eq 'app' ? 'transaction' : 'session';
		for my $how ('gate', 'reconnect') {
			my @common = ('--app', $url->('app', 'app_pw', $db), '--migrator', $url->('migrator', 'mig_pw', $db),
				      '--console', $url->('admin', 'admin_pw', 'pgbouncer'), '--db', $db, '--how', $how,
				      '--clients', 5);
			my ($out, $err, $rc) = run_cmd([ $PYTHON, "$PYDIR/asyncpg_shapes.py", @common ], timeout => 120);
			is($rc, 0, "asyncpg, $mode mode, $how: new rows or a recovered 0A000, never old bytes")
			    or diag("$out$err");
			note($out);
			SKIP: {
				skip 'node-postgres is not installed', 1 unless $have_node;
				($out, $err, $rc) = run_cmd([ 'node', "$JSDIR/shapes.js", @common ], cwd => $JSDIR,
							    timeout => 120);
				is($rc, 0, "node-postgres, $mode mode, $how: new rows or 0A000, never old bytes")
				    or diag("$out$err");
				note($out);
			}
		}
	}
}

SluiceTest::check_log($sl);
done_testing();
