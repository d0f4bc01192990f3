# The cluster-wide gate (issue 19 items 2 and 3, doc/cluster.md): PAUSE db
# CLUSTER on any member closes the gate of db on every live member and
# returns once each reported closed; RESUME db CLUSTER reopens them all;
# SHOW GATES shows the window and each member's part; a member that cannot
# drain before the deadline fails the window, which reopens everywhere with
# each member's report; local RESUME cannot end a cluster window; a member
# started while a window is closed starts closed; a member killed with
# kill -9 mid-window is left out once its heartbeat is older than
# cluster_member_timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(wait_for free_port);
use SluiceTest::Proto qw(msg);
use SluiceTest::Cluster qw(coord_setup member console peers_by_id gate_of kill9 console_query);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', 'CREATE TABLE t (id int primary key, v int); INSERT INTO t VALUES (1, 0); '
	       . 'GRANT ALL ON t TO app');
my $dsn = coord_setup($pg);

my $shared = free_port();
my %sl;
my %common = (pg => $pg, dsn => $dsn);
$sl{1} = member(%common, id => 1, settings => { so_reuseport => 1, listen_port => $shared });
$sl{2} = member(%common, id => 2, settings => { so_reuseport => 1, listen_port => $shared });
$sl{3} = member(%common, id => 3);
my %adm = map { ($_ => console($sl{$_})) } 1 .. 3;
$sl{3}->expect_log(qr/pooler error: PAUSE app: TIMEOUT takes/, qr/pooler error: usage: PAUSE db CLUSTER/);
$sl{1}->expect_log(qr/pooler error: database app is paused by cluster window \d+: RESUME app CLUSTER ends it/,
		   qr/pooler error: cluster window 999 of database app is not open/,
		   qr/pooler error: PAUSE app CLUSTER: a member could not drain before the deadline/);
ok(wait_for(sub { 3 == grep { $_->{state} eq 'alive' } values %{ peers_by_id($adm{3}) } }, timeout => 20),
   'three live members');

# a client of one member, through its own unix socket
sub app_of { my ($id) = @_; return $sl{$id}->proto(host => $sl{$id}->sockdir) }
sub send_q { my ($c, $sql) = @_; $c->send(msg('Q', "$sql\0")) }

# ---- syntax: the option after CLUSTER is read as PAUSE db reads its own
my ($tags, $err) = console_query($adm{3}, 'PAUSE app CLUSTER TIMEOUT nan');
like($err // '', qr/^PAUSE app: TIMEOUT takes a finite number of seconds, 0 or more, not "nan"/,
     'PAUSE app CLUSTER TIMEOUT nan: a syntax error');
($tags, $err) = console_query($adm{3}, 'PAUSE app CLUSTER FOR 5');
like($err // '', qr/^usage: PAUSE db CLUSTER \[TIMEOUT n\]/, 'PAUSE app CLUSTER FOR 5: usage');
is(gate_of($adm{3}, 'app')->{state} // 'open', 'open', 'nothing was paused');

# ---- PAUSE app CLUSTER through member 3: every member closes
($tags, $err) = console_query($adm{3}, 'PAUSE app CLUSTER');
is_deeply($tags, ['PAUSE'], 'PAUSE app CLUSTER returns PAUSE') or diag($err);
my $window;
for my $id (1 .. 3) {
	my $g = gate_of($adm{$id}, 'app');
	is($g->{state}, 'closed', "member $id: gate closed");
	$window //= $g->{cluster_window};
	is($g->{cluster_window}, $window, "member $id: in cluster window $window");
}
ok($window, "the window has a number ($window)");
ok(wait_for(sub { (gate_of($adm{2}, 'app')->{cluster_members} // '') eq '1=closed 2=closed 3=closed' },
	    timeout => 5), "SHOW GATES: each member's part: 1=closed 2=closed 3=closed");
ok(wait_for(sub { gate_of($adm{1}, 'app')->{cluster_state} eq 'closed' }, timeout => 5),
   'SHOW GATES on member 1: the cluster window is closed (once read after the NOTIFY)');
is($pg->safe_psql('coord', "SELECT state FROM sluice_cluster.windows WHERE number = $window"), 'closed',
   'the window is closed in the coordination database');
like($sl{$_}->log_contents, qr/gate open -> draining \(window $window\)/, "member $_ logged its gate with the window number")
    for 1 .. 3;

my %held = map { ($_ => app_of($_)) } 1 .. 3;
send_q($held{$_}, 'UPDATE t SET v = v + 1 WHERE id = 1') for 1 .. 3;
is($held{$_}->read_results(1)->{lost}, 'timed out', "member $_: a transaction is held") for 1 .. 3;

($tags, $err) = console_query($adm{1}, 'RESUME app');
like($err // '', qr/paused by cluster window $window: RESUME app CLUSTER ends it/, 'a local RESUME cannot end it');
($tags, $err) = console_query($adm{1}, 'RESUME app CLUSTER WINDOW 999');
like($err // '', qr/cluster window 999 of database app is not open/, 'RESUME ... WINDOW of another window: refused');
($tags, $err) = console_query($adm{1}, "RESUME app CLUSTER WINDOW $window");
is_deeply($tags, ['RESUME'], 'RESUME app CLUSTER through member 1') or diag($err);
for my $id (1 .. 3) {
	my $r = $held{$id}->read_results(10);
	ok(!$r->{lost} && !@{ $r->{errors} }, "member $id: the held transaction ran after RESUME");
	ok(wait_for(sub { gate_of($adm{$id}, 'app')->{state} eq 'open' }, timeout => 5), "member $id: gate open");
}
is($pg->safe_psql('app', 'SELECT v FROM t'), 3, 'the three held updates ran, once each');

# ---- a member that cannot drain before the deadline fails the window
my $busy = app_of(2);
$busy->query('BEGIN');
$busy->query('UPDATE t SET v = v + 1 WHERE id = 1');
$sl{$_}->expect_log(qr/cluster window \d+ \(app\) failed|drain deadline passed/) for 1 .. 3;
($tags, $err, my $detail, my $r) = console_query($adm{1}, 'PAUSE app CLUSTER TIMEOUT 1', 30);
like($err // '', qr/PAUSE app CLUSTER: .*cluster window (\d+) reopened everywhere/, 'PAUSE with a busy member fails');
is($r->{errors}[0]{C}, '55P03', '... with SQLSTATE 55P03');
like($detail // '', qr/peer 2: failed: C-\d+ .*transaction/, "... and member 2's report names what still ran");
like($detail // '', qr/peer 1: closed/, "... member 1's report: closed");
for my $id (1 .. 3) {
	ok(wait_for(sub { gate_of($adm{$id}, 'app')->{state} eq 'open' }, timeout => 10), "member $id: reopened");
}
is($busy->query('COMMIT')->{tags}[0], 'COMMIT', 'the busy transaction commits');
$busy->terminate;

# ---- a member started while a window is closed starts closed
($tags, $err) = console_query($adm{2}, 'PAUSE app CLUSTER');
is_deeply($tags, ['PAUSE'], 'PAUSE app CLUSTER through member 2') or diag($err);
$window = gate_of($adm{2}, 'app')->{cluster_window};
$sl{4} = member(%common, id => 4, wait_login => 0);
my $late = app_of(4);
send_q($late, 'SELECT 1');
is($late->read_results(1.5)->{lost}, 'timed out', 'member 4, started during the window: its transaction is held');
$adm{4} = console($sl{4});
ok(wait_for(sub { gate_of($adm{4}, 'app')->{state} eq 'closed' }, timeout => 10), 'member 4: gate closed');
is(gate_of($adm{4}, 'app')->{cluster_window}, $window, "member 4 takes part in window $window");
ok(wait_for(sub { (gate_of($adm{3}, 'app')->{cluster_members} // '') =~ /4=closed/ }, timeout => 5),
   'member 4 reported closed');
($tags, $err) = console_query($adm{4}, 'RESUME app CLUSTER');
is_deeply($tags, ['RESUME'], 'RESUME app CLUSTER through member 4') or diag($err);
$r = $late->read_results(10);
ok(!$r->{lost} && $r->{rows}[0][0] eq '1', "member 4's held transaction ran");
$late->terminate;

# ---- kill -9 of a member mid-window: left out after cluster_member_timeout
my $stuck = app_of(2);
$stuck->query('BEGIN');
$stuck->query('SELECT 1');
my $t0 = time;
$adm{1}->send(msg('Q', "PAUSE app CLUSTER TIMEOUT 30\0"));
ok(wait_for(sub { (gate_of($adm{3}, 'app')->{cluster_members} // '') =~ /2=draining/ }, timeout => 10),
   'member 2 drains (a transaction open)');
kill9($sl{2});
$r = $adm{1}->read_results(30);
is_deeply($r->{tags}, ['PAUSE'], 'member 2 killed: the window completes with the others');
ok(time - $t0 < 25, 'before the drain deadline');
is((peers_by_id($adm{1})->{2}{state} // ''), 'dead', 'member 2 is dead in SHOW PEERS');
is(gate_of($adm{$_}, 'app')->{state}, 'closed', "member $_: closed") for 1, 3, 4;
($tags, $err) = console_query($adm{3}, 'RESUME app CLUSTER');
is_deeply($tags, ['RESUME'], 'RESUME app CLUSTER') or diag($err);
ok(wait_for(sub { gate_of($adm{$_}, 'app')->{state} eq 'open' }, timeout => 5), "member $_: open") for 1, 3, 4;

# ---- gate_max_pause holds cluster-wide: the member that opens a window
# sets its end for all (the others keep gate_max_pause = 300 s)
$sl{3}->expect_log(qr/gate closed longer than gate_max_pause/);
is_deeply((console_query($adm{3}, 'SET gate_max_pause = 3'))[0], ['SET'], 'member 3: SET gate_max_pause = 3');
($tags, $err) = console_query($adm{3}, 'PAUSE app CLUSTER');
is_deeply($tags, ['PAUSE'], 'PAUSE app CLUSTER through member 3') or diag($err);
$window = gate_of($adm{3}, 'app')->{cluster_window};
my $t1 = time;
ok(wait_for(sub { gate_of($adm{$_}, 'app')->{state} eq 'open' }, timeout => 15),
   "member $_ reopens once the window's gate_max_pause passed") for 1, 4;
ok(time - $t1 < 10, 'long before their own gate_max_pause (300 s)');
like($sl{1}->log_contents, qr/cluster window $window \(app\) ended \(gate_max_pause passed\)/,
     'member 1 says why, with the window number');
is($pg->safe_psql('coord', "SELECT state || ' ' || reason FROM sluice_cluster.windows WHERE number = $window"),
   'open gate_max_pause passed', 'the window ended in the coordination database');

# ---- without a cluster: PAUSE ... CLUSTER is refused
my $solo = SluiceTest::Sluice->new(pg => $pg, databases => { app => $pg->connstr('app') },
				   users => { app => 'app_pw', admin => 'admin_pw' },
				   settings => { auth_type => 'plain', admin_users => 'admin' }, default_user => 'app');
$solo->expect_log(qr/pooler error: PAUSE app CLUSTER: this instance is in no cluster/);
($tags, $err) = console_query(console($solo), 'PAUSE app CLUSTER');
like($err // '', qr/this instance is in no cluster/, 'without cluster_name, PAUSE app CLUSTER is refused');

done_testing();
