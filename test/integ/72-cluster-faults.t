# The cluster gate's faults (issue 19 item 3, doc/cluster.md's failure
# table), with the coordination database on a PostgreSQL of its own:
# - pg_terminate_backend of one member's coordination connection while the
#   window is closed (and its reconnect refused for a while): that member
#   stays closed while the others follow a RESUME, until it reconnects and
#   reads the window; then it follows;
# - the coordination PostgreSQL restarted while a window is closed: nobody
#   opens early, and a RESUME after the restart reopens everyone;
# - ... restarted while a PAUSE waits: the PAUSE fails, and the window is
#   failed and reopened everywhere once the members are back;
# - a member whose coordination database is gone while its gate is open
#   keeps serving;
# - a coordination server that accepts and never answers: sluice holds
#   transactions at start until gate_max_pause, then serves, never hangs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use SluiceTest qw(wait_for free_port);
use SluiceTest::Proto qw(msg);
use SluiceTest::Cluster qw(coord_setup member console peers_by_id gate_of console_query);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $cpg = SluiceTest::Pg->new;      # the coordination database's own server
my $dsn = coord_setup($cpg);

my %sl;
$sl{$_} = member(pg => $pg, id => $_, dsn => $dsn, settings => { gate_max_pause => 120 }) for 1 .. 3;
my %adm = map { ($_ => console($sl{$_})) } 1 .. 3;
ok(wait_for(sub { 3 == grep { $_->{state} eq 'alive' } values %{ peers_by_id($adm{1}) } }, timeout => 20),
   'three live members');
for my $id (1 .. 3) {
	$sl{$id}->expect_log(qr/lost the coordination connection/, qr/coordination connection lost in window/,
			     qr/cluster window \d+ failed/, qr/pooler error: PAUSE app CLUSTER: lost the coordination/);
}
sub app_of { my ($id) = @_; return $sl{$id}->proto(host => $sl{$id}->sockdir) }
sub send_q { my ($c, $sql) = @_; $c->send(msg('Q', "$sql\0")) }
sub state_of { my ($id) = @_; return gate_of($adm{$id}, 'app')->{state} // '' }
sub coord_pid
{
	my ($id) = @_;
	return $cpg->safe_psql('postgres', "SELECT pid FROM pg_stat_activity "
			       . "WHERE application_name = 'sluice cluster peer $id'");
}

# ---- pg_terminate_backend of member 3's coordination connection, window closed
my ($tags, $err) = console_query($adm{1}, 'PAUSE app CLUSTER');
is_deeply($tags, ['PAUSE'], 'PAUSE app CLUSTER') or diag($err);
my $window = gate_of($adm{1}, 'app')->{cluster_window};
my $pid3 = coord_pid(3);
like($pid3, qr/^\d+$/, "member 3's coordination connection is in pg_stat_activity ($pid3)");
$cpg->safe_psql('postgres', 'ALTER ROLE coord NOLOGIN');   # its reconnects fail for now
$cpg->safe_psql('postgres', "SELECT pg_terminate_backend($pid3)");
ok(wait_for(sub { $sl{3}->log_contents =~ /coordination connection lost in window $window: the gate of app stays closed/ },
	    timeout => 10), 'member 3 lost its connection and says its gate stays closed');
my $c3 = app_of(3);
my $c1 = app_of(1);
send_q($c3, 'SELECT 3');
send_q($c1, 'SELECT 1');
($tags, $err) = console_query($adm{2}, 'RESUME app CLUSTER');
is_deeply($tags, ['RESUME'], 'RESUME app CLUSTER through member 2 meanwhile') or diag($err);
my $r = $c1->read_results(10);
ok(!$r->{lost} && $r->{rows}[0][0] eq '1', "member 1 follows: its held transaction ran");
ok(wait_for(sub { state_of(2) eq 'open' }, timeout => 5), 'member 2 is open');
is($c3->read_results(2)->{lost}, 'timed out', 'member 3, disconnected, stays closed: its transaction waits');
is(state_of(3), 'closed', '... SHOW GATES on member 3: closed');
$cpg->safe_psql('postgres', 'ALTER ROLE coord LOGIN');
$r = $c3->read_results(20);
ok(!$r->{lost} && $r->{rows}[0][0] eq '3', 'member 3 reconnected, read the window and reopened');
like($sl{3}->log_contents, qr/cluster window $window \(app\) ended \(RESUME CLUSTER\): reopening/,
     '... and logged why, with the window number');
$c1->terminate;
$c3->terminate;

# ---- the coordination PostgreSQL restarts while a window is closed
($tags, $err) = console_query($adm{2}, 'PAUSE app CLUSTER');
is_deeply($tags, ['PAUSE'], 'PAUSE app CLUSTER') or diag($err);
$window = gate_of($adm{2}, 'app')->{cluster_window};
want_one_more_connect();
$cpg->stop;
ok(wait_for(sub { 3 == grep { $sl{$_}->log_contents =~ /coordination connection lost in window $window/ } 1 .. 3 },
	    timeout => 10), 'every member lost the coordination database in the closed window');
my $c2 = app_of(2);
send_q($c2, 'SELECT 2');
is($c2->read_results(2)->{lost}, 'timed out', 'nobody opens while it is down');
$cpg->start;
ok(wait_for(sub { cluster_connected_all() }, timeout => 30), 'every member reconnected');
is($c2->read_results(1)->{lost}, 'timed out', 'after the restart the window is still closed');
is(state_of($_), 'closed', "member $_: closed") for 1 .. 3;
($tags, $err) = console_query($adm{3}, 'RESUME app CLUSTER');
is_deeply($tags, ['RESUME'], 'RESUME app CLUSTER after the restart') or diag($err);
$r = $c2->read_results(10);
ok(!$r->{lost} && $r->{rows}[0][0] eq '2', 'the held transaction ran');
ok(wait_for(sub { state_of($_) eq 'open' }, timeout => 10), "member $_: open") for 1 .. 3;
$c2->terminate;

sub want_one_more_connect
{
	$sl{$_}{want_connects} = 1 + (() = $sl{$_}->log_contents =~ /connected to the coordination database/g) for 1 .. 3;
}

sub cluster_connected_all
{
	for my $id (1 .. 3) {
		my $n = () = $sl{$id}->log_contents =~ /connected to the coordination database/g;
		return 0 if $n < $sl{$id}{want_connects};
	}
	return 1;
}

# ---- ... restarted while a PAUSE waits: the PAUSE fails, the window ends
want_one_more_connect();
my $busy = app_of(1);
$busy->query('BEGIN');
$busy->query('SELECT 1');
my $pauser = console($sl{2});
$pauser->send(msg('Q', "PAUSE app CLUSTER TIMEOUT 60\0"));
ok(wait_for(sub { state_of(2) eq 'closed' && state_of(1) eq 'draining' }, timeout => 10),
   'a PAUSE waits for member 1');
$cpg->stop;
$r = $pauser->read_results(15);
like($r->{errors}[0]{M} // '', qr/lost the coordination connection; window \d+ is failed and reopened everywhere/,
     'the PAUSE fails at once');
$cpg->start;
ok(wait_for(sub { cluster_connected_all() }, timeout => 30), 'every member reconnected');
ok(wait_for(sub { state_of($_) eq 'open' }, timeout => 15), "member $_: reopened") for 1 .. 3;
is($busy->query('COMMIT')->{tags}[0], 'COMMIT', "member 1's transaction commits");
$busy->terminate;

# ---- the coordination database gone while the gate is open: members serve
$cpg->stop;
ok(wait_for(sub { $sl{1}->log_contents =~ /lost the coordination connection/ }, timeout => 10), 'connection lost');
is(app_of($_)->query_value('SELECT 42'), 42, "member $_ keeps serving") for 1 .. 3;
$cpg->start;

# ---- a coordination server that accepts and never answers
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5, Proto => 'tcp')
    or die "listen: $!";
my $sport = $silent->sockport;
my $mute = member(pg => $pg, id => 9, dsn => "host=127.0.0.1 port=$sport dbname=x user=x connect_timeout=0",
		  settings => { gate_max_pause => 3 }, wait_login => 0);
$mute->expect_log(qr/lost the coordination connection/, qr/windows could not be read within gate_max_pause/);
my $t0 = time;
my $cm = app_of_sl($mute);
is($cm->query_value('SELECT 7'), 7, 'a member whose coordination server never answers serves...');
ok(time - $t0 >= 2, '... after gate_max_pause');
ok(wait_for(sub { $mute->log_contents =~ /no connection within cluster_member_timeout/ }, timeout => 10),
   'and drops the silent connection after cluster_member_timeout');
ok($mute->alive, 'it runs');
close $silent;
sub app_of_sl { my ($s) = @_; return $s->proto(host => $s->sockdir) }

done_testing();
