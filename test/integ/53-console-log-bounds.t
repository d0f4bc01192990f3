# Bounds on the console's answers and on log lines of clients that have
# not logged in (issue 14, item 15):
#
#   - a console SHOW whose answer is over PQ_WRITER_MAX (64 MiB) used to be
#     dropped silently: no ErrorResponse, no ReadyForQuery, the console
#     waited for ever. Now: 54000 naming the bound, then ReadyForQuery.
#   - a failed TLS handshake wrote a WARNING per connection, outside the
#     per-address log limit: now at most LOG_LIMIT_BURST (10) lines a
#     second per address, and LOG_LIMIT_GLOBAL_BURST (100) a second for all
#     addresses together, each with one line counting what was left out.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time sleep);
use SluiceTest qw(wait_for);
use SluiceTest::Proto qw(ssl_request error_text parse_error);
use SluiceTest::TLS;

plan skip_all => 'no openssl command' unless SluiceTest::TLS::available();
my $ca = SluiceTest::TLS->new_ca('ca53');
my $cert = $ca->server_cert;

# SHOW DATABASES prints a database's name twice (name, and database when
# no dbname= is given): 700 names of 60,000 bytes make an 84 MB answer
# from a 42 MB configuration.
my %dbs = map { sprintf('%05d', $_) . ('n' x 59_995) => 'host=127.0.0.1 port=1' } 1 .. 700;
my $sl = SluiceTest::Sluice->new(
	databases => \%dbs,
	users => { admin => 'admin_pw' },
	settings => { admin_users => 'admin', client_tls_cert_file => $cert->{cert},
		      client_tls_key_file => $cert->{key}, client_tls_sslmode => 'allow' },
	wait_login => 0,
);
# the console answer past its bound, and the failed handshakes (rate-limited)
$sl->expect_log(qr/ sluice\/admin\S+ pooler error: the answer is larger than the console sends \(67108864 bytes\) or memory ran out while building it \(sqlstate=54000\)/,
		qr/\(nodb\)\/\(nouser\)\@127\.0\.[012]\.\d+:\d+ TLS handshake error: error:0A00009C:SSL routines::http request$/);

# ---------------------------------------------------------------------------
note('a console answer over 64 MiB');
{
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
	my $r = $c->login(user => 'admin', password => 'admin_pw', database => 'sluice');
	ok($r->{ok}, 'console: admin logs in') or diag(error_text($r->{error}));
	my $t0 = time();
	my $q = $c->query('SHOW DATABASES', timeout => 20);
	note(sprintf('console: answered in %.2f s', time() - $t0));
	ok(!$q->{lost}, 'console: SHOW DATABASES is answered, up to ReadyForQuery') or diag($q->{lost});
	my $e = $q->{errors}[0] // {};
	is($e->{C} // '', '54000', 'console: SQLSTATE 54000 program_limit_exceeded') or diag(error_text($e));
	like($e->{M} // '', qr/larger than the console sends \(67108864 bytes\)/, 'console: the message names the bound');
	like($c->query_value('SHOW VERSION', timeout => 10) // '', qr/^sluice /,
	     'console: the same connection goes on (SHOW VERSION)');
	$c->terminate;
}

# A TLS handshake that fails: SSLRequest, then bytes that are no TLS.
sub bad_handshake
{
	my ($from) = @_;
	my $s = IO::Socket::INET->new(LocalAddr => $from, PeerAddr => '127.0.0.1', PeerPort => $sl->port,
				      Proto => 'tcp', Timeout => 5) or die "connect from $from: $!";
	syswrite($s, ssl_request());
	my $got = '';
	sysread($s, $got, 1);
	die "no TLS offered: '$got'" unless $got eq 'S';
	syswrite($s, "GET / HTTP/1.0\r\n\r\n" . ("\0" x 64));
	1 while sysread($s, my $buf, 4096);   # until sluice closes it
	close $s;
}
sub tls_lines { return scalar(() = $sl->log_contents =~ /TLS handshake error/g) }

# ---------------------------------------------------------------------------
note('failed TLS handshakes from one address');
{
	my $t0 = time();
	bad_handshake('127.0.0.250') for 1 .. 60;
	my $took = time() - $t0;
	my $lines = tls_lines();
	note(sprintf('one address: 60 failed handshakes in %.2f s, %d log lines', $took, $lines));
	cmp_ok($lines, '<=', 10 * (int($took) + 2), 'one address: at most 10 lines a second');
	sleep(1.1);   # deliberate: into the next second, whose budget is new
	bad_handshake('127.0.0.250');
	ok(wait_for(sub { $sl->log_contents =~ /(\d+) more like this from 127\.0\.0\.250 suppressed/ && $1 > 0 },
		    timeout => 5), 'one address: a line then says how many were left out');
}

# ---------------------------------------------------------------------------
note('failed TLS handshakes from 150 addresses');
{
	my $before = tls_lines();
	my $t0 = time();
	for my $round (1 .. 3) {
		bad_handshake("127.0.1.$_") for 1 .. 150;
	}
	my $took = time() - $t0;
	my $lines = tls_lines() - $before;
	note(sprintf('150 addresses: 450 failed handshakes in %.2f s, %d log lines', $took, $lines));
	cmp_ok($lines, '<=', 100 * (int($took) + 2), 'all addresses: at most 100 lines a second');
	sleep(1.1);   # deliberate: into the next second, whose budget is new
	bad_handshake('127.0.2.1');
	ok(wait_for(sub { $sl->log_contents =~ /(\d+) more lines about clients not logged in suppressed \(at most 100 a second from all addresses\)/ && $1 > 0 },
		    timeout => 5), 'all addresses: a line then says how many were left out');
}

done_testing();
