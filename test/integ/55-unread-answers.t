# Answers sluice gives a client itself stay bounded when the client does
# not read them (issue 14, item 15). In transaction mode sluice answers
# some messages without PostgreSQL: a Describe of a statement it knows, a
# Close of a statement, and so on. A client that pipelines such messages
# and never reads made sluice's output to it grow without end (a 12-byte
# Describe returns a RowDescription of kilobytes). Now sluice stops reading
# a client whose output is over its high-water mark, as PostgreSQL stops
# reading while its output blocks, and stops reading a client that is owed
# more than PREPARED_QUEUE_MAX answers until the server's come (asking the
# server to flush what it holds). Each case: while the client writes and
# does not read, sluice's RSS (VmRSS) stays within a bound; then the
# client reads, and every answer is there, in order, down to the last
# ReadyForQuery.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use POSIX ();
use Test::More;
use SluiceTest qw(slurp app_pool);
use SluiceTest::Proto qw(msg);

my $ASAN = ($ENV{SLUICE_BIN} // '') =~ m{/asan/};
# AddressSanitizer keeps freed memory aside (256 MB by default) before
# reusing it: with that, every byte streamed through would count here
$ENV{ASAN_OPTIONS} = join(':', grep { length } $ENV{ASAN_OPTIONS} // '', 'quarantine_size_mb=4') if $ASAN;
my $BOUND_KB = $ASAN ? 48 * 1024 : 6 * 1024;

my ($pg, $sl) = app_pool(settings => { query_wait_timeout => 60, max_prepared_statements => 50 });
my $pid = $sl->pid;

sub rss_kb { return (slurp("/proc/$pid/status") =~ /^VmRSS:\s+(\d+)/m)[0] // 0 }

sub client { $sl->proto(user => 'app', password => 'app_pw', dbname => 'app') }

# Write $bytes from a child process (the write blocks once sluice stops
# reading); the parent watches sluice's RSS for $secs, then reads
# until the final ReadyForQuery, counting message types. Returns (RSS
# growth in kB, { type => count }, last message type).
sub flood
{
	my ($c, $bytes, $secs) = @_;
	my $rss0 = rss_kb();
	my $kid = fork() // die "fork: $!";
	if ($kid == 0) {
		$c->send($bytes);
		POSIX::_exit(0);
	}
	sleep $secs;   # deliberate: the flood runs this long while nobody reads the answers
	my $grew = rss_kb() - $rss0;
	my (%n, $last);
	while (1) {
		my ($type) = $c->read_msg(30);
		last unless defined $type;
		$n{$type}++;
		$last = $type;
		last if $type eq 'Z';
	}
	waitpid($kid, 0);
	return ($grew, \%n, $last);
}

# 1. Idle: Describes of a known statement with 100 result columns,
#    answered by sluice alone (no server is linked between transactions).
{
	my $c = client();
	my $cols = join(', ', map { "$_ AS column_number_$_" } 1 .. 100);
	$c->send(msg('P', "wide\0SELECT $cols\0" . pack('n', 0)) . msg('D', "Swide\0") . msg('S'));
	my $r = $c->read_results(10);
	is(scalar @{ $r->{columns} }, 100, 'idle: a statement of 100 columns is prepared and described');
	my $n = 20000;
	my ($grew, $got, $last) = flood($c, msg('D', "Swide\0") x $n . msg('S'), 3);
	note("idle: $n Describes not read: sluice RSS grew $grew kB");
	cmp_ok($grew, '<', $BOUND_KB, "idle: $n Describes not read: sluice grows by less than "
	       . ($BOUND_KB / 1024) . ' MB (about 60 MB of answers)');
	is_deeply([ $got->{t}, $got->{T}, $last ], [ $n, $n, 'Z' ], 'idle: every answer comes once read, then ReadyForQuery');
	$c->terminate;
}

# 2. Active, in a transaction: Closes answered at once, never read.
{
	my $c = client();
	is($c->query('BEGIN')->{status}, 'T', 'active: a transaction holds the server');
	my $n = 4_000_000;
	my ($grew, $got, $last) = flood($c, msg('C', "Sx\0") x $n . msg('S'), 3);
	note("active: $n Closes not read: sluice RSS grew $grew kB");
	cmp_ok($grew, '<', $BOUND_KB, "active: $n Closes not read: sluice grows by less than "
	       . ($BOUND_KB / 1024) . ' MB (20 MB of answers)');
	is_deeply([ $got->{3}, $last ], [ $n, 'Z' ], 'active: every CloseComplete comes once read, then ReadyForQuery');
	$c->terminate;
}

# 3. Answers owed behind a query still running: the queue stops at its
#    bound, the server is asked to flush, and everything comes in order.
{
	my $c = client();
	my $n = 1_000_000;
	my $ext = msg('P', "\0SELECT pg_sleep(2)\0" . pack('n', 0)) . msg('B', "\0\0" . pack('nnn', 0, 0, 0))
	    . msg('E', "\0" . pack('N', 0));
	my ($grew, $got, $last) = flood($c, $ext . msg('C', "Sx\0") x $n . msg('S'), 3);
	note("queued: $n Closes behind a running query: sluice RSS grew $grew kB");
	cmp_ok($grew, '<', $BOUND_KB, "queued: $n Closes owed behind a running query: sluice grows by less than "
	       . ($BOUND_KB / 1024) . ' MB');
	is_deeply([ $got->{1}, $got->{2}, $got->{C}, $got->{3}, $last ], [ 1, 1, 1, $n, 'Z' ],
		  'queued: the query\'s answers, then every CloseComplete, then ReadyForQuery');
	is_deeply(client()->query('SELECT 42')->{rows}, [ [42] ], 'sluice serves the next client');
}

done_testing();
