# A Bind of hundreds of megabytes passes through transaction pooling with
# sluice's memory all but unchanged (issue 14, item 2). Sluice reads a
# Bind's names to rename its statement and streams the parameters after
# them; before, it collected the whole Bind and copied it. Checked by
# sluice's peak RSS (VmHWM) for an unnamed statement, then a named one
# (renamed), each Bind pipelined with the Describe, Execute and Sync after
# it; PostgreSQL gets the value byte for byte (length and md5), and the
# connection goes on with small statements afterwards.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Digest::MD5 qw(md5_hex);
use Test::More;
use SluiceTest qw(slurp app_pool);
use SluiceTest::Proto qw(msg);

my $MB = $ENV{SLUICE_BIG_BIND_MB} // 128;   # the closing note's 1,000: SLUICE_BIG_BIND_MB=1000
my $ASAN = ($ENV{SLUICE_BIN} // '') =~ m{/asan/};
# AddressSanitizer keeps freed memory aside (256 MB by default) before
# reusing it: with that, every byte streamed through would count here
$ENV{ASAN_OPTIONS} = join(':', grep { length } $ENV{ASAN_OPTIONS} // '', 'quarantine_size_mb=4') if $ASAN;
my $BOUND_KB = $ASAN ? 64 * 1024 : 8 * 1024;   # ASan's shadow and quarantine

my ($pg, $sl) = app_pool(settings => { query_wait_timeout => 60, max_prepared_statements => 50 });
my $pid = $sl->pid;

sub hwm_kb { return (slurp("/proc/$pid/status") =~ /^VmHWM:\s+(\d+)/m)[0] // 0 }

my $big = 'sluice-0123456789abcdef-' x (int($MB * 1024 * 1024 / 24));
my $want = join('|', length($big), md5_hex($big));
my $text = 'SELECT length($1::text), md5($1::text)';

sub bind_msg
{
	my ($name) = @_;
	return msg('B', "\0$name\0" . pack('nn', 0, 1) . pack('N', length $big) . $big . pack('n', 0));
}

sub result
{
	my ($c) = @_;
	my $r = $c->read_results(120);
	return $r->{lost} ? "lost: $r->{lost}" : @{ $r->{errors} } ? "error: $r->{errors}[0]{C} $r->{errors}[0]{M}"
	    : join('|', map { $_ // 'NULL' } @{ $r->{rows}[0] // [] });
}

my $c = $sl->proto(user => 'app', password => 'app_pw', dbname => 'app');
$c->send(msg('P', "big\0$text\0" . pack('n', 0)) . msg('S'));
is(result($c), '', 'a named statement is prepared');

my $tail = msg('D', "P\0") . msg('E', "\0" . pack('N', 0)) . msg('S');
for my $case ([ 'unnamed', '' ], [ 'named (renamed by sluice)', 'big' ]) {
	my ($what, $name) = @$case;
	my $pre = $name eq '' ? msg('P', "\0$text\0" . pack('n', 0)) : '';
	my $hwm0 = hwm_kb();
	my $t0 = time;
	ok($c->send($pre . bind_msg($name) . $tail), "$what: a $MB MB Bind is sent");
	is(result($c), $want, "$what: PostgreSQL got every byte (length and md5)");
	my $grew = hwm_kb() - $hwm0;
	note(sprintf('%s: sluice peak RSS grew %d kB for a %d MB Bind (%d s)', $what, $grew, $MB, time - $t0));
	cmp_ok($grew, '<', $BOUND_KB, "$what: sluice's peak RSS grew less than " . ($BOUND_KB / 1024) . ' MB');
}

# The Bind's names are read from its head; the connection goes on.
$c->send(msg('B', "\0big\0" . pack('nn', 0, 1) . pack('N', 2) . 'ok' . pack('n', 0)) . $tail);
is(result($c), join('|', 2, md5_hex('ok')), 'a small Bind of the same statement afterwards');
$c->terminate;

done_testing();
