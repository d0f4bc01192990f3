# Cluster membership (issue 19 item 1, doc/cluster.md): three sluices that
# share cluster_name and cluster_dsn create the schema once, register,
# heartbeat and list each other in SHOW PEERS (state, last heartbeat, gate
# states, pool sizes and their sum) and in /metrics; a member killed with
# kill -9 turns dead after cluster_member_timeout, and one started again
# takes its peer_id back; a second live member with the same peer_id is
# refused. Cancels find their instance through membership alone, with no
# [peers] section: two members on one port (so_reuseport), 20 of 20.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use HTTP::Tiny;
use SluiceTest qw(wait_for free_port);
use SluiceTest::Proto qw(cancel_request msg);
use SluiceTest::Cluster qw(coord_setup member console peers_by_id kill9);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $dsn = coord_setup($pg);

my $shared = free_port();
my $mport = free_port();
my %sl;
$sl{1} = member(pg => $pg, id => 1, dsn => $dsn, settings => { so_reuseport => 1, listen_port => $shared });
$sl{2} = member(pg => $pg, id => 2, dsn => $dsn, settings => { so_reuseport => 1, listen_port => $shared });
$sl{3} = member(pg => $pg, id => 3, dsn => $dsn,
		settings => { default_pool_size => 7, metrics_listen => "127.0.0.1:$mport" });
ok(wait_for(sub { -S $sl{$_}->sockdir . "/.s.PGSQL." . $sl{$_}->port }, timeout => 10),
   "member $_ has its own unix socket") for 1, 2;

my $adm = console($sl{3});
my $peers;
ok(wait_for(sub {
	$peers = peers_by_id($adm);
	return 3 == grep { $_->{state} eq 'alive' } values %$peers;
}, timeout => 20), 'SHOW PEERS on member 3 lists three live members')
    or diag(explain($peers));
is($peers->{$_}{address}, $sl{$_}->sockdir . ':' . $sl{$_}->port, "peer $_: its unix socket is its address")
    for 1, 2, 3;
like($peers->{1}{last_heartbeat}, qr/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, 'last heartbeat as a UTC time');
ok($peers->{1}{heartbeat_age_s} < 3, 'heartbeat age under cluster_member_timeout');
like($peers->{2}{version}, qr/^\d+\.\d+/, 'version');
is($peers->{3}{pool_sizes}, 'app=7', 'pool sizes per database (member 3: default_pool_size 7)');
is($peers->{1}{pool_size_total}, 4, 'member 1: pool size total 4');
is($peers->{3}{cluster_pool_size_total}, 4 + 4 + 7, 'the sum over the cluster: 15');
like($peers->{1}{gates}, qr/^(app=open)?$/, 'gate states: open');

is($pg->safe_psql('coord', 'SELECT max(version) FROM sluice_cluster.schema_version'), 1,
   'the schema was created, at version 1');
is($pg->safe_psql('coord', "SELECT count(*) FROM sluice_cluster.members WHERE cluster = 'test'"), 3,
   'three rows in sluice_cluster.members');
is($pg->safe_psql('coord', "SELECT count(*) FROM pg_stat_activity WHERE usename = 'coord'"), 3,
   'one coordination connection per member');
my $http = HTTP::Tiny->new(timeout => 10);
my $m = $http->get("http://127.0.0.1:$mport/metrics")->{content} // '';
like($m, qr/^sluice_cluster_members\{state="alive"\} 3$/m, '/metrics: three live members');
like($m, qr/^sluice_cluster_connected 1$/m, '/metrics: connected');
like($m, qr/^sluice_cluster_pool_size 15$/m, '/metrics: the pool sizes summed');
like($m, qr/^sluice_cluster_member_heartbeat_age_seconds\{peer_id="2"\} [\d.]+$/m, '/metrics: heartbeat age per member');
like($m, qr/^sluice_cluster_member_up\{peer_id="1"\} 1$/m, '/metrics: member 1 up');
my $keep = $sl{3}->proto(host => $sl{3}->sockdir);   # its gate of app exists while a client uses it
ok(wait_for(sub { ($http->get("http://127.0.0.1:$mport/metrics")->{content} // '')
		  =~ /^sluice_cluster_member_gate_open\{peer_id="3",database="app"\} 1$/m }, timeout => 10),
   "/metrics: member 3's gate of app, open, as its heartbeat says");
$keep->terminate;
SKIP: {
	skip 'no /usr/bin/promtool', 1 unless -x '/usr/bin/promtool';
	my ($pout, $perr, $prc) = SluiceTest::run_cmd([ '/usr/bin/promtool', 'check', 'metrics' ], stdin => $m, timeout => 30);
	ok($prc == 0 && $pout eq '' && $perr eq '', 'promtool check metrics: nothing to say') or diag("$pout$perr");
}

# --- cancels learned from membership: no [peers] anywhere
ok(wait_for(sub { $sl{$_}->log_contents =~ /cluster membership: 2 peers to forward cancel requests to/ },
	    timeout => 10), "member $_ learned its two peers") for 1, 2;
sub key_peer { my ($pid) = @_; return (($pid >> 16) & 0xff) | ((($pid >> 8) & 0xff) << 8) }
my $watch = $pg->proto;
my @bad;
my %held;
for my $round (1 .. 20) {
	my $c = $sl{1}->proto;    # the shared port: the kernel picks 1 or 2
	my $id = key_peer($c->{backend_pid});
	$held{$id}++;
	my $tag = "round $round";
	$c->send(msg('Q', "SELECT pg_sleep(10) /* $tag */\0"));
	wait_for(sub { $watch->query_value("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
					   . "AND query LIKE 'SELECT pg_sleep(10) /* $tag */%'") > 0 }, timeout => 10)
	    or push @bad, "$tag: the query did not start";
	my $other = 3 - $id;
	if ($id != 1 && $id != 2) { push @bad, "$tag: key carries peer $id"; $c->terminate; next }
	my $x = SluiceTest::Proto->connect(host => $sl{$other}->sockdir, port => $shared);
	$x->send(cancel_request($c->{backend_pid}, $c->{backend_key}));
	$x->wait_eof(10);
	my $r = $c->read_results(5);
	push @bad, "$tag: not canceled through peer $other"
	    unless !$r->{lost} && @{ $r->{errors} } && $r->{errors}[0]{C} eq '57014';
	$c->terminate;
}
is_deeply(\@bad, [], '20 of 20 cancels sent to the other member cancel the query (57014)');
ok($held{1} && $held{2}, 'both members held clients');
$watch->terminate;

# --- a second live member with peer_id 1 is refused
my $dup = member(pg => $pg, id => 1, dsn => $dsn);
$dup->expect_log(qr/peer_id 1 is held by another live member: not registered/);
ok(wait_for(sub { $dup->log_contents =~ /peer_id 1 is held by another live member/ }, timeout => 10),
   'a second member with peer_id 1 is not registered');
is(peers_by_id($adm)->{1}{address}, $sl{1}->sockdir . ":$shared", 'peer 1 keeps its address');
$dup->stop;

# --- kill -9 of member 2: dead after cluster_member_timeout; started again: alive
kill9($sl{2});
ok(wait_for(sub { (peers_by_id($adm)->{2}{state} // '') eq 'dead' }, timeout => 15),
   'member 2, killed, is dead in SHOW PEERS');
ok(wait_for(sub { $sl{3}->log_contents =~ /peer 2 \(\S+\) is dead/ }, timeout => 5), '... and logged');
$m = $http->get("http://127.0.0.1:$mport/metrics")->{content} // '';
like($m, qr/^sluice_cluster_members\{state="dead"\} 1$/m, '/metrics: one dead member');
is(peers_by_id($adm)->{3}{cluster_pool_size_total}, 4 + 7, 'the sum counts live members only');
$sl{2}->start;
ok(wait_for(sub { (peers_by_id($adm)->{2}{state} // '') eq 'alive' }, timeout => 15),
   'member 2, started again, takes its peer_id back');

# --- without cluster_name: no coordination connection, SHOW PEERS lists [peers]
my $solo = SluiceTest::Sluice->new(pg => $pg, databases => { app => $pg->connstr('app') },
				   users => { app => 'app_pw', admin => 'admin_pw' },
				   settings => { auth_type => 'plain', admin_users => 'admin', peer_id => 9 },
				   extra_config => "\n[peers]\n9 = host=/tmp port=1\n10 = host=127.0.0.1 port=6999\n",
				   default_user => 'app');
my $sc = console($solo);
my $sp = peers_by_id($sc);
is_deeply([ sort keys %$sp ], [ 10, 9 ], 'without a cluster, SHOW PEERS lists [peers]');
is($sp->{10}{state}, 'configured', '... as configured');
unlike($solo->log_contents, qr/cluster/, 'and nothing of a cluster runs');

done_testing();
