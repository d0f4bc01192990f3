# A TLS client that sends its bytes in records of one byte each must not
# hold sluice's event loop: every record is an SSL_read, and reading a
# connection's TLS input until 256 KiB had arrived took 256 Ki calls (about
# a second here, several under AddressSanitizer) while every other
# connection waited. That was issue 15's "difference 6" (the differential
# test's clients that send byte by byte over TLS, and the other clients it
# then reported as hung). Bytes OpenSSL has read from the socket but not
# yet decrypted wake no socket either: after a yield, sluice comes back
# for them itself (SSL_has_pending, not SSL_pending).
#
# The tiny-record client is test/integ/c/tls_scram.c (--record 1).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use File::Copy ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use SluiceTest qw(spawn slurp wait_for new_tempdir);
use SluiceTest::Proto;

plan skip_all => 'the openssl command line tool is needed' unless SluiceTest::TLS::available();

my $TLS_SCRAM = SluiceTest::c_test_program('tls_scram');
plan skip_all => 'test/integ/c/tls_scram is not built' unless $TLS_SCRAM;
{   # a private copy: a `make` elsewhere relinks build/test/bin while we run
	my $copy = new_tempdir('bin') . '/tls_scram';
	File::Copy::copy($TLS_SCRAM, $copy) && chmod(0755, $copy) or die "copy $TLS_SCRAM: $!";
	$TLS_SCRAM = $copy;
}

my $ca = SluiceTest::TLS->new_ca('tiny');
my $cert = $ca->server_cert;
my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
	default_db => 'app', default_user => 'app',
	settings => { client_tls_sslmode => 'allow', client_tls_cert_file => $cert->{cert},
		      client_tls_key_file => $cert->{key}, pool_mode => 'transaction',
		      default_pool_size => 4 });

# The slow client: a query of PAD bytes, one byte per TLS record, in the
# background. Its output says what it got.
my $PAD = 600_000;
my $out = new_tempdir('tiny') . '/tls_scram.out';
my $t0 = time();
my ($pid, $status);
sub running { return 0 if defined $status; my $r = waitpid($pid, WNOHANG); $status = $? if $r == $pid; return !defined $status }
$pid = spawn([ $TLS_SCRAM, '--port', $sl->port, '--user', 'app', '--db', 'app',
		  '--password', 'app_pw', '--record', 1, '--query-pad', $PAD ],
		stdout => $out, stderr => "$out.err");
ok(wait_for(sub { slurp($out) =~ /^ready /m || !running() }, timeout => 30),
   'the tiny-record client logged in over TLS');

# Meanwhile another client's round trips: each must come back promptly,
# not after the loop has read a quarter of a megabyte of one-byte records.
my $other = SluiceTest::Proto->connect(port => $sl->port, timeout => 30);
my $login = $other->login(user => 'app', database => 'app', password => 'app_pw');
ok(!$login->{error}, 'a second client logs in') or diag explain $login;
my ($n, $worst, $overlapped) = (0, 0, 0);
while ($n < 400 && running() && slurp($out) !~ /^value /m) {
	my $s = time();
	my $v = $other->query_value('SELECT 1');
	my $took = time() - $s;
	last unless defined $v && $v eq '1';
	$worst = $took if $took > $worst;
	$n++;
	sleep 0.01;
}
$overlapped = running() && slurp($out) !~ /^value /m ? 1 : 0;
ok($n >= 20, "the second client ran $n queries while the tiny records streamed in");
ok($overlapped || $n >= 100, 'they overlapped the stream');
# 0.5 s: about a hundred times what a pass takes now; before the fix one
# callback held the loop for 256 Ki records, about a second here
cmp_ok($worst, '<', 0.5, sprintf('no round trip waited behind the stream (worst %.3f s)', $worst));

ok(wait_for(sub { !running() }, timeout => 180), 'the tiny-record client finished');
is($status, 0, 'it exited 0');
like(slurp($out), qr/^value $PAD$/m, "its $PAD-byte query, sent a byte per record, was answered")
    or diag slurp($out) . slurp("$out.err");
note(sprintf('the stream took %.1f s', time() - $t0));

is($other->query_value('SELECT 2'), '2', 'the second client still works');
$other->terminate;
$sl->stop;
done_testing();
