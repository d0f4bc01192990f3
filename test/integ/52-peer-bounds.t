# Bounds on what a peer can make sluice do (issue 14, item 15), against
# SluiceTest::FakePg servers:
#
#   - cancels: a logged-in client knows its own cancel key and may send
#     CancelRequests as fast as it likes. Each used to open a connection
#     to PostgreSQL and write a line at LOG. Now at most one cancel is in
#     flight per server connection; the others are dropped (DEBUG).
#   - PBKDF2 from a stored verifier: a cleartext password checked against a
#     SCRAM-SHA-256$<iterations>:... verifier (auth_file, or auth_query's
#     answer) ran PBKDF2 with whatever count the verifier said, on the
#     event loop. Now above SCRAM_CLIENT_ITER_MAX (100,000) the login
#     fails without computing it, and the log says why.
#   - an auth_query lookup that never answers kept its server (and one of
#     auth_query_max_in_flight) forever. Now it has server_connect_timeout;
#     then the server is closed and the client told.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Digest::SHA qw(sha256 hmac_sha256);
use MIME::Base64 qw(encode_base64);
use POSIX ();
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(slurp spit wait_for);
use SluiceTest::FakePg qw(ready data_row command_complete row_description);
use SluiceTest::Proto qw(cancel_request error_text);

# A well-formed verifier. With $password its keys are real (PBKDF2 in
# Perl: keep $iter small); without, random keys: only the count matters.
sub verifier
{
	my ($iter, $password) = @_;
	my $salt = join('', map { chr int rand 256 } 1 .. 16);
	my ($stored, $server);
	if (defined $password) {
		my $salted = SluiceTest::Proto::_pbkdf2_sha256($password, $salt, $iter);
		$stored = sha256(hmac_sha256('Client Key', $salted));
		$server = hmac_sha256('Server Key', $salted);
	} else {
		($stored, $server) = map { join('', map { chr int rand 256 } 1 .. 32) } 1 .. 2;
	}
	return "SCRAM-SHA-256\$$iter:" . encode_base64($salt, '') . '$' . encode_base64($stored, '') . ':'
	    . encode_base64($server, '');
}
my $SLOW_VERIFIER = verifier(10_000_000);

# ---- the fake servers ----

# `SELECT hang` waits until the test creates $release; cancel connections
# are held open 1.5 s, as a slow PostgreSQL would.
my $release = SluiceTest::new_tempdir('release') . '/go';
my $cancel_fake = SluiceTest::FakePg->new(
	cancel_hold => 1.5,
	query => sub {
		my ($sql) = @_;
		return undef unless $sql eq 'SELECT hang';
		SluiceTest::wait_for(sub { -e $release }, timeout => 20, interval => 0.02);
		return undef;
	},
);

# auth_query: the one parameter of the Bind is the user name.
sub bind_user
{
	my ($msgs) = @_;
	for my $m (@$msgs) {
		next unless $m->[0] eq 'B';
		my $b = $m->[1];
		my $p = index($b, "\0") + 1;
		$p = index($b, "\0", $p) + 1;
		my $nfmt = unpack('n', substr($b, $p, 2));
		$p += 2 + 2 * $nfmt + 2;
		my $len = unpack('N', substr($b, $p, 4));
		return substr($b, $p + 4, $len);
	}
	return '';
}
my $authq_fake = SluiceTest::FakePg->new(sync => sub {
	my ($conn, $msgs) = @_;
	my $user = bind_user($msgs);
	return 'hang' if $user eq 'hangs';
	my %secret = (looked => 'looked_pw', slowhash => $SLOW_VERIFIER);
	return ready('I') unless exists $secret{$user};
	return '1' . pack('N', 4) . '2' . pack('N', 4) . data_row($user, $secret{$user})
	    . command_complete('SELECT 1') . ready('I');
});

my $sl = SluiceTest::Sluice->new(
	databases => {
		cancel => $cancel_fake->connstr('cancel', pool_mode => 'session'),
		authq  => $authq_fake->connstr('authq'),
	},
	users => { app => 'app_pw', fine => verifier(4096, 'fine_pw'), slow => $SLOW_VERIFIER,
		   authq_user => 'unused' },
	settings => { auth_type => 'plain', auth_user => 'authq_user',
		      auth_query => 'SELECT usename, passwd FROM pg_shadow WHERE usename = $1',
		      auth_query_max_in_flight => 1, auth_cache_lifetime => 0,
		      server_connect_timeout => 1, client_login_timeout => 20 },
	wait_login => 0,
);
# the verifier sluice will not compute (slow, slowhash) and the lookup that hangs
$sl->expect_log(
	qr/ WARNING \S+\/userlist\.txt:\d+: user "slow": SCRAM verifier with 10000000 iterations, more than sluice computes for a cleartext password \(100000\): logins that send one \(auth_type plain, hba password\) will fail for it; SCRAM logins are not affected$/,
	qr/ (?:cancel\/slow|authq\/slowhash)\@\S+ user "(slow|slowhash)": the stored SCRAM verifier has 10000000 iterations, more than sluice computes for a cleartext password \(100000\): login refused$/,
	qr/ (?:cancel\/slow|authq\/slowhash)\@\S+ pooler error: password authentication failed for user "(slow|slowhash)" \(sqlstate=28P01\)/,
	qr/ S-\d+ authq\/authq_user\S+ auth_query did not answer within 1 s; closing the connection$/,
	qr/ authq\/hangs\S+ pooler error: could not look up the user: auth_query did not answer within 1 s \(sqlstate=08006\)/);
my $pid = $sl->pid;
my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub cpu_s
{
	my ($rest) = slurp("/proc/$pid/stat") =~ /\)\s+(.*)$/s;
	my @f = split ' ', $rest // '';
	return (($f[11] // 0) + ($f[12] // 0)) / $TCK;   # utime + stime
}

sub login
{
	my ($user, $password, $db, $timeout) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => $timeout // 10);
	my $r = $c->login(user => $user, password => $password, database => $db, timeout => $timeout // 10);
	return ($c, $r);
}

sub count_log { my ($re) = @_; return scalar(() = $sl->log_contents =~ /$re/g) }

# ---------------------------------------------------------------------------
note('200 CancelRequests for one running query');
{
	my ($c, $r) = login('app', 'app_pw', 'cancel');
	ok($r->{ok}, 'cancel: the client logs in') or diag(error_text($r->{error}));
	$c->send(SluiceTest::Proto::msg('Q', "SELECT hang\0"));
	ok(wait_for(sub { grep { /^query \d+: SELECT hang$/ } $cancel_fake->events }, timeout => 10),
	   'cancel: the query runs on the server');
	my $N = 200;
	my $t0 = time();
	for (1 .. $N) {
		my $k = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
		$k->send(cancel_request($r->{backend_pid}, $r->{backend_key}));
		$k->wait_eof(10);   # sluice closes it once handled
	}
	my $sent = grep { /^cancel / } $cancel_fake->events;
	note(sprintf('cancel: %d CancelRequests in %.2f s; %d reached the server, %d INFO lines',
		     $N, time() - $t0, $sent, count_log(qr/forwarding cancel request/)));
	is($sent, 1, 'cancel: one cancel reached the server while it was in flight');
	is(count_log(qr/forwarding cancel request/), 1, 'cancel: one log line about it');
	# the fake closes the cancel connection after 1.5 s: the next one goes
	ok(wait_for(sub { grep { /^close \d+$/ } $cancel_fake->events }, timeout => 10),
	   'cancel: the server takes the first cancel');
	ok(wait_for(sub {
		my $k = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
		$k->send(cancel_request($r->{backend_pid}, $r->{backend_key}));
		$k->wait_eof(10);
		return grep({ /^cancel / } $cancel_fake->events) == 2;
	}, timeout => 10), 'cancel: once it is taken, the next cancel reaches the server');
	spit($release, '');
	my $q = $c->read_results(10);
	is_deeply($q->{rows}, [ ['hang'] ], 'cancel: the client gets its answer');
	$c->terminate;
}

# ---------------------------------------------------------------------------
note('a cleartext password against a verifier of 10,000,000 iterations');
{
	like($sl->log_contents, qr/userlist\.txt:\d+: user "slow": SCRAM verifier with 10000000 iterations/,
	     'slow: the load warns about the entry, naming file and line');
	my ($c, $r) = login('fine', 'fine_pw', 'cancel');
	ok($r->{ok}, 'fine: a cleartext password against a 4096-iteration verifier logs in')
	    or diag(error_text($r->{error}));
	$c->terminate;
	for my $case ([ 'slow', 'cancel', 'auth_file' ], [ 'slowhash', 'authq', 'auth_query' ]) {
		my ($user, $db, $from) = @$case;
		my ($cpu0, $t0) = (cpu_s(), time());
		($c, $r) = login($user, 'guess', $db, 20);
		my ($cpu, $took) = (cpu_s() - $cpu0, time() - $t0);
		note(sprintf('%s (%s): the refused login took %.2f s, sluice used %.2f s of CPU',
			     $user, $from, $took, $cpu));
		ok(!$r->{ok}, "$user: refused");
		is($r->{error}{C} // '', '28P01', "$user: SQLSTATE 28P01") or diag(error_text($r->{error}));
		cmp_ok($cpu, '<', 0.5, "$user: sluice used less than 0.5 s of CPU (no PBKDF2 of 10,000,000)");
		ok(wait_for(sub { $sl->log_contents =~ /user "\Q$user\E": the stored SCRAM verifier has 10000000 iterations, more than sluice computes for a cleartext password \(100000\)/ },
			    timeout => 5), "$user: the log says why");
	}
}

# ---------------------------------------------------------------------------
note('an auth_query lookup that never answers');
{
	my $t0 = time();
	my $c1 = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
	$c1->send(SluiceTest::Proto::startup_packet({ user => 'hangs', database => 'authq' }));
	ok(wait_for(sub { grep { /^sync \d+$/ } $authq_fake->events }, timeout => 10),
	   'hang: the lookup reached the server');
	# queued behind it: auth_query_max_in_flight = 1
	my ($c2, $r2);
	my $c2pid = open(my $c2out, '-|') // die "fork: $!";
	if (!$c2pid) {
		my ($c, $r) = login('looked', 'looked_pw', 'authq', 10);
		print $r->{ok} ? "ok\n" : 'error ' . error_text($r->{error}) . "\n";
		POSIX::_exit(0);
	}
	my ($type, $body) = $c1->read_msg(8);
	my $took = time() - $t0;
	is($type // 'none', 'E', 'hang: the client gets an ErrorResponse');
	my $e = SluiceTest::Proto::parse_error($body);
	like($e->{M} // '', qr/could not look up the user: auth_query did not answer within 1 s/,
	     'hang: the message says the lookup timed out') or diag(error_text($e));
	is($e->{C} // '', '08006', 'hang: SQLSTATE 08006');
	note(sprintf('hang: the client was told after %.2f s', $took));
	cmp_ok($took, '<', 5, 'hang: within a few seconds (server_connect_timeout 1 s), not client_login_timeout');
	ok(wait_for(sub { grep { /^cancel / } $authq_fake->events }, timeout => 5),
	   'hang: sluice sent a cancel for the lookup');
	my $out = join('', <$c2out>);
	close $c2out;
	is($out, "ok\n", 'hang: the next lookup gets a server and its client logs in');
	like($sl->log_contents, qr/auth_query did not answer within 1 s/, 'hang: the log says why');
}

done_testing();
