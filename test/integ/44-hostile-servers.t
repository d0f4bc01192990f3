# Servers that break the protocol or ask too much (issue 14), played by
# SluiceTest::FakePg next to a real PostgreSQL. Each misbehaviour costs
# only the client of that server: sluice logs it, stays responsive (its
# console answers, another pool serves), its memory and CPU stay bounded,
# and the same pool logs in again once the server behaves.
#
#   - a ReadyForQuery that no query asked for (then the server hangs up):
#     the count of answers once passed the count of questions, and
#     `outstanding = client count - server count` wrapped to 4 billion
#     error replies. Now: 08P01 to its client, which is closed.
#   - a greeting of 200 ParameterStatus messages of 100 KB, or 200 small
#     ones: the pool kept it and sent it to every client. Now the login
#     fails (54000) at the first message over SERVER_LOGIN_MSG_MAX (32 KiB),
#     at the 65th ParameterStatus, or at a value over 1 KiB.
#   - SCRAM with i=10,000,000: 3.4 s of PBKDF2 on the event loop per login.
#     Now refused (54000) right after server-first, above 100,000.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use POSIX ();
use Test::More;
use Time::HiRes qw(time);
use SluiceTest qw(slurp wait_for);
use SluiceTest::FakePg qw(ready row_description data_row command_complete param_status error_response);
use SluiceTest::Proto qw(error_text parse_error);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

# A query "SELECT twice" inside a transaction is answered with two
# ReadyForQuery; in the transaction-pooled database the server then hangs
# up (what made the count wrap), in the session-pooled one it stays.
sub twice_script
{
	my ($hang_up) = @_;
	return sub {
		my ($sql, $conn) = @_;
		return undef unless $sql eq 'SELECT twice';
		my $bytes = row_description('?column?') . data_row('twice') . command_complete('SELECT 1')
		    . ready($conn->{status}) . ready($conn->{status});
		return $hang_up ? [ $bytes, 'close' ] : $bytes;
	};
}
my $evil = SluiceTest::FakePg->new(query => twice_script(1));
my $evil_session = SluiceTest::FakePg->new(query => twice_script(0));

# the first connection greets with 200 ParameterStatus of 100 KB each
my $flood = SluiceTest::FakePg->new(greeting => sub {
	my ($conn) = @_;
	return undef if $conn->{n} > 1;
	return sub { my ($write) = @_; $write->(param_status("flood_$_", 'x' x 100_000)) for 1 .. 200 };
});
# the first connection greets with 200 small ParameterStatus
my $many = SluiceTest::FakePg->new(greeting => sub {
	my ($conn) = @_;
	return $conn->{n} > 1 ? undef : join('', map { param_status("many_$_", 'v' x 100) } 1 .. 200);
});
# the first connection greets with one ParameterStatus value of 2000 bytes
my $big = SluiceTest::FakePg->new(greeting => sub {
	my ($conn) = @_;
	return $conn->{n} > 1 ? undef : param_status('big_one', 'b' x 2000);
});
# the first connection asks for 10,000,000 SCRAM iterations, later ones 4096
my $slow = SluiceTest::FakePg->new(scram => sub {
	my ($conn) = @_;
	return $conn->{n} == 1 ? { iterations => 10_000_000 } : { iterations => 4096, password => 'fake_pw' };
});

# A server shutting down (a fast restart under way) fails a login with
# 57P01: the first login here; the next ones succeed.
my $restarting = SluiceTest::FakePg->new(greeting => sub {
	my ($conn) = @_;
	return $conn->{n} == 1
	    ? error_response('FATAL', '57P01', 'terminating connection due to administrator command')
	    : undef;
});

my $sl = SluiceTest::Sluice->new(
	pg => $pg,
	databases => {
		app          => $pg->connstr('app'),
		evil         => $evil->connstr('evil', pool_mode => 'transaction'),
		evil_session => $evil_session->connstr('evil_session', pool_mode => 'session'),
		flood        => $flood->connstr('flood'),
		many         => $many->connstr('many'),
		big          => $big->connstr('big'),
		slow         => $slow->connstr('slow', user => 'app', password => 'fake_pw'),
		restarting   => $restarting->connstr('restarting', pool_mode => 'transaction'),
	},
	users => { app => 'app_pw', admin => 'admin_pw' },
	default_user => 'app',
	settings => { admin_users => 'admin', server_login_retry => 1, query_wait_timeout => 20 },
);
# what each hostile server below makes sluice refuse (server side) and tell
# its client (client side)
{
	my $evil = qr/protocol violation(?: by the server)?: ReadyForQuery when no query was waiting for one/;
	my $login = qr/server sent a message of 100013 bytes while logging in \(at most 32768\)|server sent more than 64 ParameterStatus messages while logging in|server sent a ParameterStatus value of 2000 bytes for "big_one" while logging in \(at most 1024\)|server asks for 10000000 SCRAM iterations, more than sluice computes \(100000\)/;
	$sl->expect_log(qr/ S-\d+ evil(?:_session)?\/app\S+ $evil; closing the connection$/,
			qr/ C-\d+ evil(?:_session)?\/app\S+ pooler error: $evil \(sqlstate=08P01\)/,
			qr/ S-\d+ (?:flood|many|big|slow)\/app\S+ login failed: (?:$login)$/,
			qr/ C-\d+ (?:flood|many|big|slow)\/app\S+ pooler error: (?:$login) \(sqlstate=54000\)/,
			qr/ S-\d+ restarting\/app\S+ login failed: terminating connection due to administrator command$/);
}
my $pid = $sl->pid;
my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub rss_kb { return (slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m)[0] // 0 }

sub cpu_s
{
	my ($rest) = slurp("/proc/$pid/stat") =~ /\)\s+(.*)$/s;
	my @f = split ' ', $rest // '';
	return (($f[11] // 0) + ($f[12] // 0)) / $TCK;   # utime + stime
}

# sluice still answers: its console, and a client of the real PostgreSQL
sub still_serving
{
	my ($what) = @_;
	my $t0 = time();
	my ($out, $err, $rc) = $sl->psql('SHOW VERSION', db => 'sluice', user => 'admin', password => 'admin_pw',
					 timeout => 10);
	ok($rc == 0 && $out =~ /sluice/i, sprintf('%s: the console answers SHOW VERSION (%.2f s)', $what, time() - $t0))
	    or diag("rc $rc: $err");
	is(scalar $sl->psql('SELECT 1', db => 'app', timeout => 10), '1', "$what: another pool still serves");
}

sub login
{
	my ($db) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => 15);
	my $r = $c->login(user => 'app', password => 'app_pw', database => $db);
	return ($c, $r);
}

# ---------------------------------------------------------------------------
note('a ReadyForQuery nobody asked for, then the server hangs up (transaction pooling)');
{
	my ($rss0, $cpu0) = (rss_kb(), cpu_s());
	my ($c, $r) = login('evil');
	ok($r->{ok}, 'evil: the client logs in') or diag(error_text($r->{error}));
	is($c->query('BEGIN')->{status}, 'T', 'evil: BEGIN');
	my $q = $c->query('SELECT twice');
	is_deeply($q->{rows}, [ ['twice'] ], 'evil: the rows and the first ReadyForQuery reach the client');
	my ($type, $body) = $c->read_msg(10);
	is($type // 'none', 'E', 'evil: then an ErrorResponse, not the second ReadyForQuery');
	my $e = parse_error($body);
	is($e->{C} // '', '08P01', 'evil: SQLSTATE 08P01 protocol_violation');
	like($e->{M} // '', qr/protocol violation by the server: ReadyForQuery/,
	     'evil: the message names what the server did') or diag(error_text($e));
	my ($eof) = $c->wait_eof(10);
	ok($eof, 'evil: and the client is closed');
	ok(wait_for(sub { $sl->log_contents =~ /protocol violation: ReadyForQuery when no query was waiting/ },
		    timeout => 10), 'evil: the log says what the server did');
	still_serving('evil');
	my ($rss1, $cpu1) = (rss_kb(), cpu_s());
	note(sprintf('evil: sluice RSS %d -> %d kB, CPU %.2f s', $rss0, $rss1, $cpu1 - $cpu0));
	cmp_ok($rss1 - $rss0, '<', 8192, 'evil: sluice RSS grew less than 8 MB');
	cmp_ok($cpu1 - $cpu0, '<', 3, 'evil: sluice used less than 3 s of CPU (no runaway loop)');
	my ($c2, $r2) = login('evil');
	ok($r2->{ok} && ($c2->query_value('SELECT 1') // '') eq '1',
	   'evil: the pool connects again and serves the next client');
	cmp_ok($evil->connections, '>=', 2, 'evil: on a new server connection');
	$c2->terminate;
}

# ---------------------------------------------------------------------------
note('a ReadyForQuery nobody asked for (session pooling, the server stays)');
{
	my ($c, $r) = login('evil_session');
	ok($r->{ok}, 'evil_session: the client logs in') or diag(error_text($r->{error}));
	my $q = $c->query('SELECT twice');
	is_deeply($q->{rows}, [ ['twice'] ], 'evil_session: the rows and the first ReadyForQuery');
	my ($type, $body) = $c->read_msg(10);
	is($type // 'none', 'E', 'evil_session: then an ErrorResponse');
	is(parse_error($body)->{C} // '', '08P01', 'evil_session: SQLSTATE 08P01');
	ok(($c->wait_eof(10))[0], 'evil_session: the client is closed');
	my ($c2, $r2) = login('evil_session');
	ok($r2->{ok} && ($c2->query_value('SELECT 1') // '') eq '1', 'evil_session: the next client is served');
	$c2->terminate;
}

# ---------------------------------------------------------------------------
note('a greeting of 200 ParameterStatus of 100 KB');
{
	my $rss0 = rss_kb();
	my ($c, $r) = login('flood');
	ok(!$r->{ok}, 'flood: the client does not get the bloated greeting');
	is($r->{error}{C} // '', '54000', 'flood: SQLSTATE 54000 program_limit_exceeded')
	    or diag(error_text($r->{error}));
	like($r->{error}{M} // '', qr/message of \d+ bytes while logging in/, 'flood: the message says why');
	ok(wait_for(sub { $sl->log_contents =~ /login failed: server sent a message of \d+ bytes while logging in/ },
		    timeout => 10), 'flood: the log says why the login failed');
	my $rss1 = rss_kb();
	note("flood: sluice RSS $rss0 -> $rss1 kB");
	cmp_ok($rss1 - $rss0, '<', 4096, 'flood: sluice RSS grew less than 4 MB');
	my ($c2, $r2) = login('flood');
	ok($r2->{ok} && ($c2->query_value('SELECT 1') // '') eq '1', 'flood: a normal greeting afterwards works')
	    or diag(error_text($r2->{error}));
	ok(!grep({ /^flood_/ } keys %{ $r2->{params} // {} }), 'flood: nothing of the bloated greeting was kept');
	$c2->terminate;
	still_serving('flood');
}

# ---------------------------------------------------------------------------
note('a greeting of 200 small ParameterStatus');
{
	my ($c, $r) = login('many');
	ok(!$r->{ok}, 'many: the client does not get in');
	is($r->{error}{C} // '', '54000', 'many: SQLSTATE 54000') or diag(error_text($r->{error}));
	like($r->{error}{M} // '', qr/more than 64 ParameterStatus messages/, 'many: the message says why');
	my ($c2, $r2) = login('many');
	ok($r2->{ok} && ($c2->query_value('SELECT 1') // '') eq '1', 'many: a normal greeting afterwards works')
	    or diag(error_text($r2->{error}));
	is(scalar(grep { /^many_/ } keys %{ $r2->{params} // {} }), 0, 'many: nothing of the long greeting was kept');
	$c2->terminate;
}

# ---------------------------------------------------------------------------
note('a ParameterStatus value of 2000 bytes');
{
	my ($c, $r) = login('big');
	ok(!$r->{ok}, 'big: the client does not get in');
	is($r->{error}{C} // '', '54000', 'big: SQLSTATE 54000') or diag(error_text($r->{error}));
	like($r->{error}{M} // '', qr/value of 2000 bytes for "big_one"/, 'big: the message names the parameter');
	my ($c2, $r2) = login('big');
	ok($r2->{ok} && ($c2->query_value('SELECT 1') // '') eq '1', 'big: a normal greeting afterwards works')
	    or diag(error_text($r2->{error}));
	$c2->terminate;
}

# ---------------------------------------------------------------------------
note('SCRAM with 10,000,000 iterations');
{
	my ($cpu0, $t0) = (cpu_s(), time());
	my ($c, $r) = login('slow');
	my ($cpu1, $took) = (cpu_s(), time() - $t0);
	note(sprintf('slow: the refused login took %.2f s, sluice used %.2f s of CPU', $took, $cpu1 - $cpu0));
	ok(!$r->{ok}, 'slow: the client does not get in');
	is($r->{error}{C} // '', '54000', 'slow: SQLSTATE 54000') or diag(error_text($r->{error}));
	like($r->{error}{M} // '', qr/10000000 SCRAM iterations, more than sluice computes \(100000\)/,
	     'slow: the message says why');
	my @ev = $slow->events;
	ok((grep { /^scram-first 1 i=10000000$/ } @ev) && !(grep { /^scram-final 1$/ } @ev),
	   'slow: sluice refused right after server-first (no client-final computed)') or diag(join("\n", @ev));
	cmp_ok($cpu1 - $cpu0, '<', 1, 'slow: sluice used less than 1 s of CPU (no PBKDF2 of 10,000,000)');
	my ($c2, $r2) = login('slow');
	ok($r2->{ok} && ($c2->query_value('SELECT 1') // '') eq '1', 'slow: with 4096 iterations the login works')
	    or diag(error_text($r2->{error}));
	$c2->terminate;
}

# ---------------------------------------------------------------------------
note('a login that meets a server shutting down (57P01): transient, tried again');
{
	my ($c, $r) = login('restarting');
	ok($r->{ok}, 'restarting: the client logs in once the next login succeeds')
	    or diag(error_text($r->{error}));
	if ($r->{ok}) {
		my $q = $c->query('SELECT 1');
		is($q->{status}, 'I', 'restarting: and its query is answered');
	}
	cmp_ok($restarting->connections, '>=', 2, 'restarting: sluice logged in again after the 57P01');
	$c->close;
}

done_testing();
