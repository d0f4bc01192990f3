# The admin console: reached as database "sluice" or "pgbouncer", for
# admin_users and stats_users only; SHOW answers carry PgBouncer 1.18's
# column names, order and types, compared with a PgBouncer run side by side.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my %common = (
	pg => $pg,
	databases => { app => $pg->connstr('app', user => 'app', password => 'app_pw') },
	users => { app => 'app_pw', admin => 'admin_pw', watcher => 'watch_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', stats_users => 'watcher' },
);
my $sl = SluiceTest::Sluice->new(%common);
my $pgb = do {
	local $ENV{SLUICE_BIN} = '/usr/sbin/pgbouncer';
	SluiceTest::Sluice->new(%common);
};

# Column names and type OIDs of a SHOW, through psycopg (what tools use).
sub columns
{
	my ($node, $db, $user, $pw, $cmd) = @_;
	my $py = <<'PY';
import sys, psycopg
port, db, user, pw, cmd = sys.argv[1:6]
c = psycopg.connect(host="127.0.0.1", port=port, dbname=db, user=user, password=pw,
                    autocommit=True, prepare_threshold=None)
cur = c.execute(cmd)
print(",".join("%s:%d" % (d.name, d.type_code) for d in cur.description))
rows = cur.fetchall()
print(len(rows))
PY
	my ($out, $err, $rc) = run_cmd([ '/usr/bin/python3', '-c', $py, $node->port, $db, $user, $pw, $cmd ],
				       timeout => 20);
	return $rc == 0 ? [ split /\n/, $out ] : [ "error: $err" ];
}

for my $cmd ('SHOW VERSION', 'SHOW POOLS', 'SHOW DATABASES', 'SHOW SERVERS', 'SHOW CLIENTS', 'SHOW LISTS',
	     'SHOW CONFIG', 'SHOW USERS') {
	my $want = columns($pgb, 'pgbouncer', 'admin', 'admin_pw', $cmd);
	my $got = columns($sl, 'pgbouncer', 'admin', 'admin_pw', $cmd);
	is($got->[0], $want->[0], "$cmd: the same columns and types as PgBouncer 1.18");
}
is(columns($sl, 'sluice', 'admin', 'admin_pw', 'SHOW VERSION')->[1], 1, 'reached as database "sluice" too');
like(columns($sl, 'sluice', 'watcher', 'watch_pw', 'show databases;')->[1], qr/^1$/,
     'stats_users may SHOW (lower case, trailing ;)');

my ($o, $e, $rc) = run_cmd([ SluiceTest::psql_bin(), '-X', '-At', '-h', '127.0.0.1', '-p', $sl->port,
			     '-U', 'app', '-d', 'sluice', '-c', 'SHOW POOLS' ],
			   env => { PGPASSWORD => 'app_pw' }, timeout => 20);
isnt($rc, 0, 'a user in neither admin_users nor stats_users is refused');
like($e, qr/not allowed to use the admin console/, '... with a clear message');

# Unknown commands and bad arguments: an error, and the console stays usable.
($o, $e, $rc) = run_cmd([ SluiceTest::psql_bin(), '-X', '-At', '-h', '127.0.0.1', '-p', $sl->port,
			  '-U', 'admin', '-d', 'pgbouncer', '-c', 'SHOW NOPE', '-c', 'FROB', '-c',
			  'SHOW VERSION extra', '-c', 'SHOW VERSION' ],
			env => { PGPASSWORD => 'admin_pw' }, timeout => 20);
like($e, qr/SHOW NOPE is not supported/, 'an unknown SHOW gets an error');
like($e, qr/unknown command: FROB/, 'an unknown command gets an error');
like($e, qr/takes no arguments/, 'a bad argument gets an error');
like($o, qr/^sluice /m, 'and the same console connection still answers');

$pgb->stop;
SluiceTest::check_log($sl);
done_testing();
