# An error ahead of sluice's Close skips it: the server keeps the
# statement sluice believed it had closed. A later Parse of that name by
# sluice must not meet it (42P05 "already exists", which PostgreSQL would
# never have said to this client). Here the Close is an eviction under
# max_prepared_statements = 1, pipelined behind a Parse that fails; the
# ASan campaign met the same with a stand-in's Close (difference 9 of
# doc/testing.md).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;
use SluiceTest::Proto qw(msg);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
	default_user => 'app', settings => { pool_mode => 'transaction', default_pool_size => 1,
					    max_prepared_statements => 1 },
);

my $c = $sl->proto;
sub bind_exec { my ($name) = @_; msg('B', "\0$name\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) }

for my $round (1 .. 3) {
	my ($a, $b) = ("a$round", "b$round");
	$c->send(msg('P', "$a\0SELECT $round AS a\0" . pack('n', 0)) . msg('S'));
	is(scalar @{$c->read_results(10)->{errors}}, 0, "round $round: $a prepared");
	# the unnamed Parse fails: sluice's eviction of $a and its Parse of
	# $b behind it are skipped by the server
	$c->send(msg('P', "\0SELEC 1\0" . pack('n', 0))
		 . msg('P', "$b\0SELECT 10 + $round AS b\0" . pack('n', 0)) . msg('S'));
	my $r = $c->read_results(10);
	is(($r->{errors}[0] // {})->{C}, '42601', "round $round: the syntax error, and only it");
	is(scalar @{$r->{errors}}, 1, "round $round: one error");
	$c->send(bind_exec($a) . msg('S'));
	$r = $c->read_results(10);
	is(scalar @{$r->{errors}}, 0, "round $round: $a runs (sluice prepares it again)")
		or diag explain $r->{errors};
	is($r->{rows}[0][0], $round, "round $round: ... with its own result");
	$c->send(bind_exec($b) . msg('S'));
	$r = $c->read_results(10);
	is(($r->{errors}[0] // {})->{C}, '26000', "round $round: $b does not exist, as on PostgreSQL");
}
$c->terminate;

done_testing();
