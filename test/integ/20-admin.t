# The admin console: reached as database "sluice" or "pgbouncer", for
# admin_users and stats_users only; SHOW answers carry PgBouncer 1.18's
# column names, order and types, compared with a PgBouncer run side by side.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Select;
use Time::HiRes qw(time);
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
$sl->expect_log(qr/ sluice\/app\S+ pooler error: user "app" is not allowed to use the admin console \(sqlstate=28000\)/);
like($e, qr/not allowed to use the admin console/, '... with a clear message');

# Unknown commands and bad arguments: an error, and the console stays usable.
($o, $e, $rc) = run_cmd([ SluiceTest::psql_bin(), '-X', '-At', '-h', '127.0.0.1', '-p', $sl->port,
			  '-U', 'admin', '-d', 'pgbouncer', '-c', 'SHOW NOPE', '-c', 'FROB', '-c',
			  'SHOW VERSION extra', '-c', 'SHOW VERSION' ],
			env => { PGPASSWORD => 'admin_pw' }, timeout => 20);
$sl->expect_log(qr/ pgbouncer\/admin\S+ pooler error: SHOW NOPE is not supported \(yet\); try SHOW HELP \(sqlstate=0A000\)/,
		qr/ pgbouncer\/admin\S+ pooler error: unknown command: FROB; try SHOW HELP \(sqlstate=42601\)/,
		qr/ pgbouncer\/admin\S+ pooler error: SHOW VERSION takes no arguments \(sqlstate=08P01\)/);
like($e, qr/SHOW NOPE is not supported/, 'an unknown SHOW gets an error');
like($e, qr/unknown command: FROB/, 'an unknown command gets an error');
like($e, qr/takes no arguments/, 'a bad argument gets an error');
like($o, qr/^sluice /m, 'and the same console connection still answers');

# ---- backpressure: a console that sends and does not read ----
# Commands pipelined by a client that reads none of the answers: sluice
# runs them only while the answers are read (the high watermark of
# conn.h), so it does not grow by their sum (20,000 SHOW CONFIG answers
# are about 70 MB); once the client reads, every answer comes.
{
	my $N = 20_000;
	my $rss = sub { (SluiceTest::slurp('/proc/' . $sl->pid . '/status') =~ /^VmRSS:\s+(\d+) kB/m)[0] * 1024 };
	# the kernel's send and receive queues of a TCP socket on 127.0.0.1
	my $queues = sub {
		my ($lport, $rport) = @_;
		for (split /\n/, SluiceTest::slurp('/proc/net/tcp')) {
			next unless /^\s*\d+: [0-9A-F]{8}:([0-9A-F]{4}) [0-9A-F]{8}:([0-9A-F]{4}) \S\S ([0-9A-F]+):([0-9A-F]+)/;
			return (hex $3, hex $4) if hex $1 == $lport && hex $2 == $rport;
		}
		return (-1, -1);
	};
	my $c = $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer');
	my $other = $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer');
	my $before = $rss->();
	my $todo = SluiceTest::Proto::msg('Q', "SHOW CONFIG;\0") x $N;
	my $mine = $c->sock->sockport;
	$c->sock->blocking(0);
	# Write what the kernel takes; after each round, the other console's
	# round trip turns sluice's loop. Done when a round changed nothing:
	# sluice reads no more (or has read it all) and we can write no more.
	my ($rounds, $answered, $last) = (0, 0, '');
	SluiceTest::wait_for(sub {
		my $n = length $todo ? syswrite($c->sock, $todo) : 0;
		substr($todo, 0, $n, '') if $n;
		$rounds++;
		$answered++ if ($other->query_value('SHOW VERSION', timeout => 10) // '') =~ /^sluice /;
		my $now = join ',', length $todo, $queues->($sl->port, $mine), $queues->($mine, $sl->port);
		my $settled = !$n && $now eq $last;
		$last = $now;
		return $settled;
	}, timeout => 60, interval => 0);
	my $grew = $rss->() - $before;
	note(sprintf '%d rounds; unsent %s; sluice grew by %.1f MB', $rounds, $last, $grew / 1048576);
	# Under AddressSanitizer (make asan) freed memory stays resident in its
	# quarantine, so the churn of building answers shows; unbounded, the
	# 20,000 answers alone are about 70 MB.
	my $limit_mb = ($ENV{SLUICE_BIN} // '') =~ m{/asan/} ? 48 : 16;
	cmp_ok($grew, '<', $limit_mb * 1048576,
	       "$N pipelined SHOW CONFIG not read: sluice grows by less than $limit_mb MB");
	is($answered, $rounds, '... and another console is answered meanwhile');

	# now read (still not blocking: sluice takes the rest of the commands
	# only as we read): every answer, whole
	my ($buf, $ready, $tags, $pos) = ('', 0, 0, 0);
	my $sel = IO::Select->new($c->sock);
	my $deadline = time + 120;
	while ($ready < $N && time < $deadline) {
		if (length $todo && (my $n = syswrite($c->sock, $todo, 65536))) {
			substr($todo, 0, $n, '');
		}
		next unless $sel->can_read(1);
		my $k = sysread($c->sock, my $d, 1 << 20);
		last unless $k;
		$buf .= $d;
		while ($pos + 5 <= length $buf) {
			my ($type, $len) = unpack('aN', substr($buf, $pos, 5));
			last if $pos + 1 + $len > length $buf;
			$ready++ if $type eq 'Z';
			$tags++ if $type eq 'C' && substr($buf, $pos + 5, $len - 4) eq "SHOW\0";
			$pos += 1 + $len;
		}
		substr($buf, 0, $pos, '');
		$pos = 0;
	}
	$c->sock->blocking(1);
	is($ready, $N, "read at last: $N ReadyForQuery");
	is($tags, $N, "... and $N complete SHOW answers");
	like($c->query_value('SHOW VERSION') // '', qr/^sluice /, 'the console works on');
	$c->terminate;
	$other->terminate;
}

$pgb->stop;

done_testing();
