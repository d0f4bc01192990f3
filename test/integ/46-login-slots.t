# Clients that have not finished logging in are counted against
# max_login_clients, not max_client_conn (issue 14, item 7). 300 sockets
# that each send one byte and then say nothing once held every slot until
# client_login_timeout: a real client was closed at accept. Now, with
# max_client_conn = 50 and max_login_clients = 10, a flood of 300 such
# sockets holds at most 10 login slots; those beyond are refused with
# 53300; a slot that has been logging in for longer than a second is given
# to a newcomer; so a real client logs in at once while the flood sits,
# and all 50 logged-in places stay usable. A silent socket costs sluice
# less than SILENT_BOUND bytes, a login waiting for its password less
# than ASKED_BOUND (measured over 2000 of each).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(slurp wait_for);
use SluiceTest::Proto;

use constant MAX_CONN      => 50;
use constant MAX_LOGIN     => 10;
use constant LOGIN_TIMEOUT => 60;
use constant FLOOD         => 300;
use constant SLOT_AGE      => 1;      # LOGIN_SLOT_MIN_AGE (src/login_slots.c)
use constant SILENT        => 2000;   # sockets measured for memory
# bytes of RSS per silent socket (doc/security.md; was 1.9 KiB); under
# AddressSanitizer every allocation carries redzones around it
use constant SILENT_BOUND  => ($ENV{SLUICE_BIN} // '') =~ m{/asan/} ? 4096 : 1024;
# ... and per login waiting for its password (its SCRAM exchange's state,
# its output buffer; about 2.7 KiB; 3.8 KiB while an empty input buffer
# was kept)
use constant ASKED_BOUND   => ($ENV{SLUICE_BIN} // '') =~ m{/asan/} ? 16384 : 3200;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my %common = (
	pg => $pg, databases => { app => $pg->connstr('app') },
	users => { app => 'app_pw', admin => 'admin_pw' },
	nofile => 4096, default_user => 'app',
);

# n sockets that each send one byte (the first of a startup packet's length)
sub flood
{
	my ($port, $n) = @_;
	my @s;
	for (1 .. $n) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
					      Timeout => 5) or die "connect: $!";
		syswrite($s, "\0");
		push @s, $s;
	}
	return @s;
}

# What sluice sent a socket before closing it: (closed, first SQLSTATE).
sub outcome
{
	my ($s) = @_;
	my $c = bless { sock => $s, buf => '', timeout => 0.05, eof => 0, timed_out => 0 },
		'SluiceTest::Proto';
	my ($type, $body) = $c->read_msg;
	my $code = $type && $type eq 'E' ? SluiceTest::Proto::parse_error($body)->{C} : undef;
	my ($eof) = $c->wait_eof(0.05);
	return ($eof, $code);
}

sub lists
{
	my ($sl) = @_;
	my $out = $sl->safe_psql('SHOW LISTS', db => 'sluice', user => 'admin', password => 'admin_pw');
	return { map { split /\|/ } split /\n/, $out };
}

# --- a flood of one-byte sockets does not lock real clients out
{
	my $sl = SluiceTest::Sluice->new(%common, settings => {
		max_client_conn => MAX_CONN, max_login_clients => MAX_LOGIN,
		client_login_timeout => LOGIN_TIMEOUT, admin_users => 'admin',
	});
	# the flood's sockets: refused while every slot is taken, or their slot
	# given away; the client one past max_client_conn
	$sl->expect_log(qr/ app\/app\S+ pooler error: sorry, too many clients already \(sqlstate=53300\)/,
			qr/\(nodb\)\/\(nouser\)\S+ pooler error: sorry, too many clients are logging in already \(max_login_clients\) \(sqlstate=53300\)/,
			qr/\(nodb\)\/\(nouser\)\S+ pooler error: login took longer than \d+ s while every login slot was taken \(max_login_clients\): the slot went to a newer connection \(sqlstate=53300\)/);
	my @flood = flood($sl->port, FLOOD);
	my $t0 = time();
	# the flood's slots become old enough to be given away
	select(undef, undef, undef, SLOT_AGE + 0.3);

	my $t1 = time();
	my ($out, $err, $rc) = $sl->psql('SELECT 1', timeout => 20);
	my $took = time() - $t1;
	is($rc, 0, 'psql logs in while ' . FLOOD . ' one-byte sockets sit') or diag($err);
	is($out, '1', '... and SELECT 1 answers');
	cmp_ok($took, '<', 5, sprintf('... within 5 s, far below client_login_timeout (%.2f s)', $took));

	# every logged-in place is usable while the flood sits
	my @in;
	for (1 .. MAX_CONN) {
		my $c = SluiceTest::Proto->connect(port => $sl->port);
		my $r = $c->login(user => 'app', password => 'app_pw', database => 'app');
		last unless $r->{ok};
		push @in, $c;
	}
	is(scalar @in, MAX_CONN, 'all max_client_conn (' . MAX_CONN . ') clients log in while the flood sits');
	my $extra = SluiceTest::Proto->connect(port => $sl->port);
	my $r = $extra->login(user => 'app', password => 'app_pw', database => 'app');
	is($r->{error}{C}, '53300', 'one more is refused: 53300 ' . ($r->{error}{M} // '(no message)'));
	$extra->close;
	$_->terminate for @in;

	my ($closed, $refused) = (0, 0);
	for my $s (@flood) {
		my ($eof, $code) = outcome($s);
		$closed++ if $eof;
		$refused++ if $eof && ($code // '') eq '53300';
	}
	note("flood: $closed of " . FLOOD . " closed by sluice, $refused of them with 53300, "
	     . sprintf('%.1f s after it began', time() - $t0));
	cmp_ok($closed, '>=', FLOOD - MAX_LOGIN, 'sluice keeps at most max_login_clients of the flood');
	is($refused, $closed, '... and tells each one it closes why (53300)');
	my $l = wait_for(sub { my $x = lists($sl); $x->{login_clients} <= MAX_LOGIN ? $x : undef },
			 timeout => 5) // lists($sl);
	cmp_ok($l->{login_clients}, '<=', MAX_LOGIN, "SHOW LISTS: login_clients $l->{login_clients}");
	$_->close for @flood;
}

# --- what a silent socket costs
{
	my $sl = SluiceTest::Sluice->new(%common, settings => {
		max_client_conn => 100, max_login_clients => 2 * SILENT,
		client_login_timeout => LOGIN_TIMEOUT, admin_users => 'admin',
	});
	my $pid = $sl->pid;
	my $rss = sub { (slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+) kB/m)[0] * 1024 };
	# warm up: a login, the console, a few sockets come and go
	$sl->safe_psql('SELECT 1');
	close($_) for flood($sl->port, 50);
	wait_for(sub { lists($sl)->{login_clients} == 0 }, timeout => 10);
	my $before = $rss->();
	my @silent = flood($sl->port, SILENT);
	my $l = wait_for(sub { my $x = lists($sl); $x->{login_clients} >= SILENT ? $x : undef },
			 timeout => 20) // lists($sl);
	is($l->{login_clients}, SILENT, 'sluice holds ' . SILENT . ' silent sockets logging in');
	my $per = ($rss->() - $before) / SILENT;
	cmp_ok($per, '<', SILENT_BOUND, sprintf('a silent socket costs sluice %.0f bytes of RSS', $per));
	$_->close for @silent;

	# sockets that sent their startup packet, were asked for a password,
	# and say nothing more: each holds its login's state, and no input
	# buffer while it waits (an empty one goes back: conn_shed_in)
	my $before_pw = $rss->();
	my @asked;
	for (1 .. SILENT) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $sl->port, Proto => 'tcp',
					      Timeout => 5) or die "connect: $!";
		syswrite($s, SluiceTest::Proto::startup_packet({ user => 'app', database => 'app' }));
		push @asked, $s;
	}
	my $got = 0;
	for my $s (@asked) {   # the authentication request, before anything is measured
		my $buf = '';
		$s->blocking(1);
		$got++ if sysread($s, $buf, 1) == 1 && $buf eq 'R';
	}
	is($got, SILENT, 'every one of ' . SILENT . ' logins was asked for its password');
	my $per_pw = ($rss->() - $before_pw) / SILENT;
	cmp_ok($per_pw, '<', ASKED_BOUND, sprintf('a login waiting for its password costs sluice %.0f bytes of RSS', $per_pw));
	close($_) for @asked;
}

done_testing();
