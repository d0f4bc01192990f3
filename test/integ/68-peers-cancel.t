# Cancels that find their instance (peer_id and [peers], doc/cluster.md):
# two sluices share one TCP port (so_reuseport) and each lists both in
# [peers] by its own unix socket. The peer id rides in the cancel keys they
# hand out; a client's cancel sent to the instance that does not hold it is
# forwarded once and cancels its query with 57014, 50 times out of 50.
# A cancel for a peer [peers] does not list, or one that comes back after
# its one forward, is dropped with a line; forwards to a peer that is down
# or silent fail (within their timeout) and harm nothing; a reload changes
# [peers]. Without peer_id nothing changes (05-cancel.t).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use IO::Socket::INET;
use SluiceTest qw(wait_for free_port);
use SluiceTest::Proto qw(cancel_request msg);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

my $port = free_port();
my %sl;
for my $id (1, 2) {
	$sl{$id} = SluiceTest::Sluice->new(
		pg => $pg,
		databases => { app => $pg->connstr('app') },
		users => { app => 'app_pw' },
		settings => { so_reuseport => 1, listen_port => $port, peer_id => $id,
			      pool_mode => 'transaction', default_pool_size => 4 },
		start => 0,
	);
}
# the same [peers] in both files, each instance's own entry included
my $peers = "\n[peers]\n" . join('', map { "$_ = host=" . $sl{$_}->sockdir . " port=$port\n" } 1, 2);
for my $id (1, 2) {
	$sl{$id}{extra} = $peers;
	$sl{$id}->write_config;
	$sl{$id}->start;
}
ok($sl{1}->alive && $sl{2}->alive, 'two sluices listen on one port');
# the TCP probe at start may reach either one: wait for each one's own socket
ok(wait_for(sub { -S $sl{$_}->sockdir . "/.s.PGSQL.$port" }, timeout => 10), "peer $_ has its own unix socket")
    for 1, 2;

# The peer id a cancel key carries: bytes 1 and 2 of the pid on the wire,
# low byte first (PgBouncer's layout).
sub key_peer { my ($pid) = @_; return (($pid >> 16) & 0xff) | ((($pid >> 8) & 0xff) << 8) }
# A pid carrying peer id $id, its other bits from $pid.
sub with_peer
{
	my ($pid, $id) = @_;
	return ($pid & 0x7f0000ff) | (($id & 0xff) << 16) | (($id >> 8) << 8);
}

my $watch = $pg->proto;
my $running = sub {
	my ($tag) = @_;
	return $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
				   . "AND query LIKE 'SELECT pg_sleep(10) /* $tag */%'") > 0;
};

# A client through the shared port with `SELECT pg_sleep(10)` running:
# (client, the peer id its key carries).
sub sleeper
{
	my ($tag) = @_;
	my $c = $sl{1}->proto;      # the shared TCP port: the kernel picks the instance
	my $id = key_peer($c->{backend_pid});
	$c->send(msg('Q', "SELECT pg_sleep(10) /* $tag */\0"));
	ok(wait_for(sub { $running->($tag) }, timeout => 10), "$tag: the query runs")
	    or return ($c, $id);
	return ($c, $id);
}

# Send a CancelRequest straight to one instance's own unix socket.
sub cancel_at
{
	my ($id, $pid, $key) = @_;
	my $x = SluiceTest::Proto->connect(host => $sl{$id}->sockdir, port => $port);
	$x->send(cancel_request($pid, $key));
	my ($eof, $data) = $x->wait_eof(10);
	return $eof && $data eq '';
}

sub canceled
{
	my ($c, $what) = @_;
	my $r = $c->read_results(5);
	return 0 if $r->{lost} || !@{ $r->{errors} } || $r->{errors}[0]{C} ne '57014';
	return $c->query_value('SELECT 1') eq '1';
}

# --- 50 rounds: each cancel goes to the instance that does not hold the client
my (%held, @bad);
for my $round (1 .. 50) {
	my ($c, $id) = sleeper("round $round");
	$held{$id}++;
	if ($id != 1 && $id != 2) {
		push @bad, "round $round: key carries peer id $id";
		$c->terminate;
		next;
	}
	my $other = 3 - $id;
	cancel_at($other, $c->{backend_pid}, $c->{backend_key})
	    or push @bad, "round $round: peer $other did not close the cancel connection";
	canceled($c) or push @bad, "round $round: the query held by peer $id was not canceled "
	    . "through peer $other";
	$c->terminate;
}
is_deeply(\@bad, [], '50 of 50 cancels sent to the other instance cancel the query (57014)');
note("clients held by peer 1: " . ($held{1} // 0) . ", by peer 2: " . ($held{2} // 0));
ok($held{1} && $held{2}, 'the kernel gave clients to both instances, so both forwarded');
ok(wait_for(sub { $sl{$_}->log_contents =~ /forwarding cancel request to backend/ }, timeout => 5),
   "peer $_ cancelled queries it was forwarded") for 1, 2;

# --- a peer id [peers] does not list: dropped with a line, nothing happens
my ($c, $id) = sleeper('unlisted');
my $other = 3 - $id;
$sl{$other}->expect_log(qr/cancel request for peer 77, which \[peers\] does not list: dropped/);
ok(cancel_at($other, with_peer($c->{backend_pid}, 77), $c->{backend_key}),
   'a cancel for peer 77: closed without a reply');
ok(wait_for(sub { $sl{$other}->log_contents =~ /for peer 77, which \[peers\] does not list: dropped/ },
	    timeout => 5), '... and logged as dropped');

# --- a cancel that comes back after its one forward: the key's hop count
# (its two low bits) is spent, and the instance that does not hold it drops it
$sl{$other}->expect_log(qr/cancel request for peer $id reached peer $other after its one forward: dropped/);
ok(cancel_at($other, $c->{backend_pid}, $c->{backend_key} & ~3 & 0xffffffff),
   'a cancel with no forward left, sent to the wrong peer: closed');
ok(wait_for(sub { $sl{$other}->log_contents =~ /reached peer $other after its one forward: dropped/ },
	    timeout => 5), '... and logged as dropped, not forwarded again');
my ($type) = $c->read_msg(0.5);
ok(!defined $type && !$c->{eof}, 'the query was not canceled by either (no reply within 500 ms)');
ok(cancel_at($id, $c->{backend_pid}, $c->{backend_key} & ~3 & 0xffffffff)
   && canceled($c), 'the same spent key at the holder itself cancels it (57014)');
$c->terminate;

# --- peers that are down: a reload adds peer 3 (no socket there) and
# peer 4 (a port that accepts and never answers, one forward in flight)
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5,
				   Proto => 'tcp') or die "listen: $!";
my $silent_port = $silent->sockport;
my $gone = SluiceTest::new_tempdir('peer-gone');
my $pid3 = with_peer(0x12000034, 3);
$sl{1}->expect_log(qr/cancel request for peer 3, which \[peers\] does not list: dropped/);
ok(cancel_at(1, $pid3, 0x51), 'a cancel for peer 3 before the reload: closed');
ok(wait_for(sub { $sl{1}->log_contents =~ /for peer 3, which \[peers\] does not list/ }, timeout => 5),
   '... dropped: [peers] does not list it yet');
$sl{1}{extra} = $peers . "3 = host=$gone port=$port\n" . "4 = host=127.0.0.1 port=$silent_port pool_size=1\n";
$sl{1}->reload;
ok(wait_for(sub { $sl{1}->log_contents =~ /configuration reloaded/ }, timeout => 10), 'peer 1 reloaded');
$sl{1}->expect_log(qr/cancel request for peer 3 dropped: cannot connect to \Q$gone\E/,
		   qr/cancel request for peer 4 dropped: 1 forward to it in flight already \(pool_size\)/,
		   qr/cancel request forwarded to peer 4 \(127\.0\.0\.1:$silent_port\): no answer within 5 s/);
ok(cancel_at(1, $pid3, 0x51), 'a cancel for peer 3, which is down: closed');
ok(wait_for(sub { $sl{1}->log_contents =~ /for peer 3 dropped: cannot connect/ }, timeout => 5),
   '... and logged as dropped');
my $pid4 = with_peer(0x23000045, 4);
ok(cancel_at(1, $pid4, 0x61), 'a cancel for peer 4, which never answers: closed at once');
ok(cancel_at(1, $pid4, 0x71), 'a second one while the first is in flight: closed');
ok(wait_for(sub { $sl{1}->log_contents =~ /for peer 4 dropped: 1 forward to it in flight/ }, timeout => 5),
   '... dropped: peer 4 has pool_size = 1');
my $timeouts = sub { scalar(() = $sl{1}->log_contents =~ /forwarded to peer 4 \S+: no answer within/g) };
ok(wait_for(sub { $timeouts->() >= 1 }, timeout => 15), 'the forward to peer 4 times out');
ok(cancel_at(1, $pid4, 0x81), 'another cancel for peer 4 after the timeout');
ok(wait_for(sub { $timeouts->() >= 2 }, timeout => 15),
   '... is forwarded (its slot was freed) and times out in turn');
close $silent;

# nothing was harmed: a cancel still finds its instance both ways
for my $round (1 .. 4) {
	my ($c2, $id2) = sleeper("after $round");
	ok(cancel_at(3 - $id2, $c2->{backend_pid}, $c2->{backend_key}) && canceled($c2),
	   "after the failures: a cancel through peer " . (3 - $id2) . " cancels peer $id2\'s query");
	$c2->terminate;
}
ok($sl{1}->alive && $sl{2}->alive, 'both sluices are running');
$watch->terminate;

done_testing();
