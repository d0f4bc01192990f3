# Connections that never finish logging in do not outlive
# client_login_timeout, with tcp_defer_accept on (the default): a TCP
# connection that sends nothing is accepted once the kernel's short defer
# period ends (1 s, as PgBouncer sets it; Linux rounds it to a SYN-ACK
# retransmission, about 1 to 3 s) and is then closed by the login timeout,
# like one that sent part of a startup packet. Each wait is bounded by
# client_login_timeout plus a margin; with the 45 s defer sluice once used,
# a silent connection stayed open (not even accepted) far longer.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Time::HiRes qw(time);
use SluiceTest;
use SluiceTest::Proto;

use constant LOGIN_TIMEOUT => 2;
use constant BOUND         => LOGIN_TIMEOUT + 10;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
	settings => { client_login_timeout => LOGIN_TIMEOUT, max_client_conn => 1000 },
);
$sl->expect_log(qr/\(nodb\)\/\(nouser\)\S+ pooler error: client_login_timeout: login took longer than \d+ s \(sqlstate=08P01\)/);

# Wait, until one common deadline, for sluice to close each connection;
# returns how many it closed.
sub closed_by
{
	my ($deadline, @conns) = @_;
	my $closed = 0;
	for my $c (@conns) {
		my $left = $deadline - time();
		my ($eof) = $c->wait_eof($left > 0 ? $left : 0.01);
		$closed++ if $eof;
	}
	return $closed;
}

# --- one TCP connection that sends nothing
{
	my $t0 = time();
	my $c = SluiceTest::Proto->connect(port => $sl->port);
	my $closed = closed_by($t0 + BOUND, $c);
	is($closed, 1, sprintf('a silent TCP connection is closed within client_login_timeout + 10 s '
			       . '(after %.1f s)', time() - $t0));
	$c->close;
}

# --- 200 at once: half send nothing, half send 6 bytes of a startup packet
{
	my $half = pack('N', 40) . pack('n', 3);   # length, then half the version
	my (@silent, @partial);
	my $t0 = time();
	for my $i (1 .. 100) {
		push @silent, SluiceTest::Proto->connect(port => $sl->port);
		my $p = SluiceTest::Proto->connect(port => $sl->port);
		$p->send($half);
		push @partial, $p;
	}
	my $deadline = $t0 + BOUND;
	my $closed_partial = closed_by($deadline, @partial);
	my $closed_silent = closed_by($deadline, @silent);
	my $took = time() - $t0;
	is($closed_partial, 100, 'mixed: all 100 connections with 6 bytes of a startup packet are closed');
	is($closed_silent, 100, sprintf('mixed: all 100 silent connections are closed within '
					 . 'client_login_timeout + 10 s (%.1f s)', $took));
	$_->close for @silent, @partial;
}

# --- and sluice still serves a client that logs in
my $c = $sl->proto;
is($c->query_value('SELECT 1'), '1', 'a client that logs in is served');
$c->terminate;

done_testing();
