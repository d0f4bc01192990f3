# A client cannot reach the statements sluice prepared for other clients
# on a shared server (issue 13, point 5). Over a transaction pool of one
# server, a victim prepares a statement; an attacker of the same role reads
# sluice's names from pg_prepared_statements and tries to replace, run or
# remove them with SQL-level DEALLOCATE / PREPARE / EXECUTE: plain, quoted,
# Unicode-escaped, behind comments, in the third statement of a string,
# inside EXPLAIN and CREATE TABLE AS, through a Parse, and behind 2 MB of
# padding (a Query streamed to the server before its end was seen). Each
# is refused with 42501 and the attacker's session ends; a Bind or
# Describe of sluice's name at the protocol level finds nothing (26000); the victim's
# statement still returns its own row. SQL that names nothing of sluice's
# (a client's own PREPARE, DEALLOCATE ALL, DISCARD ALL, DISCARD PLANS) still
# runs, and sluice's record of what the server has stays true through it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(app_pool);
use SluiceTest::Proto qw(msg);

# a client's own SQL PREPARE is session state in transaction pooling: the
# default transaction_session_state (warn) says so (61-session-state.t)
SluiceTest::expect_log(qr/session state in transaction pooling \(application_name "[^"]*"\): sql_prepare: .*\("PREPARE own_q \.\.\."\)/);

my ($pg, $sl) = app_pool();
# each refusal below
$sl->expect_log(qr/ app\/app\S+ pooler error: (?:PREPARE|EXECUTE|DEALLOCATE) of a prepared statement named sluice_\.\.\.: those are sluice's own, on servers other clients share; SQL-level PREPARE, EXECUTE and DEALLOCATE of them are refused \(sqlstate=42501\)/);

sub client { $sl->proto(user => 'app', password => 'app_pw', dbname => 'app') }

# Parse (once) and execute a named statement; its one value, or the error.
sub run_named
{
	my ($c, $name, $text, $parse) = @_;
	my $out = '';
	$out .= msg('P', "$name\0$text\0" . pack('n', 0)) if $parse;
	$out .= msg('B', "\0$name\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S');
	$c->send($out);
	my $r = $c->read_results(10);
	return $r->{lost} ? "lost: $r->{lost}" : @{ $r->{errors} } ? 'error: ' . $r->{errors}[0]{C}
	    : $r->{rows}[0][0];
}

my $victim = client();
is(run_named($victim, 'mine', q{SELECT 'victim'::text}, 1), 'victim', 'the victim prepares and runs its statement');

my $spy = client();
my $names = $spy->query(q{SELECT name FROM pg_prepared_statements WHERE name LIKE 'sluice\_%' ORDER BY name});
my $target = $names->{rows}[0][0] // '';
like($target, qr/^sluice_\d+$/, "a client of the same role reads sluice's name: $target");
$spy->terminate;

(my $num = $target) =~ s/^sluice_//;
my $u_escaped = 'U&"\0073luice_' . $num . '"';
my $padding = '/* ' . ('x' x (2 * 1024 * 1024)) . ' */ ';
my @attacks = (
	[ 'DEALLOCATE then PREPARE', "DEALLOCATE $target; PREPARE $target AS SELECT 'PWNED'::text" ],
	[ 'quoted name', qq{DEALLOCATE "$target"} ],
	[ 'upper case', 'DEALLOCATE ' . uc($target) ],
	[ 'Unicode escape', "DEALLOCATE PREPARE $u_escaped" ],
	[ 'comments between tokens', "/* hi */ DEALLOCATE -- x\n $target" ],
	[ 'third statement of a string', "SELECT 1; SELECT 'a;b'; EXECUTE $target" ],
	[ 'EXPLAIN EXECUTE', "EXPLAIN EXECUTE $target" ],
	[ 'CREATE TABLE AS EXECUTE', "CREATE TEMP TABLE t AS EXECUTE $target" ],
	[ 'PREPARE alone', "PREPARE $target AS SELECT 'PWNED'::text" ],
	[ 'after 2 MB of padding (streamed)', "SELECT 1; $padding DEALLOCATE $target" ],
);
for my $a (@attacks) {
	my ($what, $sql) = @$a;
	my $c = client();
	my $r = $c->query($sql, timeout => 20);
	my $e = $r->{errors}[0] // {};
	is($e->{C}, '42501', "$what: refused with 42501") or diag(explain($r));
	like($e->{M} // '', qr/sluice's\s+own/, "$what: the message says why");
	my ($eof) = $c->wait_eof(10);
	ok($eof, "$what: the session ends");
	is(run_named($victim, 'mine', '', 0), 'victim', "$what: the victim's statement returns its own row");
}

# The keyword at every offset of the first 34 bytes, in turn PREPARE,
# EXECUTE and DEALLOCATE and in mixed case: the fast look for the three
# words reads sixteen or eight bytes at a time, and a keyword across the
# edge of a block or in the tail after the last block must still be seen.
{
	my @missed;
	for my $at (0 .. 33) {
		my $kw = (qw(pRePaRe ExEcUtE dEaLlOcAtE))[ $at % 3 ];
		my $rest = $kw =~ /^p/i ? "$target AS SELECT 'PWNED'::text" : $target;
		my $sql = ' ' x $at . "$kw $rest";
		my $c = client();
		my $r = $c->query($sql, timeout => 10);
		push @missed, "$at ($kw): " . ($r->{errors}[0]{C} // 'no error') unless ($r->{errors}[0]{C} // '') eq '42501';
		$c->close;
	}
	is(join(', ', @missed), '', 'the keyword at each offset 0 to 33: refused with 42501 every time');
	is(run_named($victim, 'mine', '', 0), 'victim', "offsets: the victim's statement returns its own row");
}

# ... and through the extended protocol: a Parse of the same SQL
{
	my $c = client();
	$c->send(msg('P', "\0DEALLOCATE $target\0" . pack('n', 0)) . msg('S'));
	my $r = $c->read_results(10);
	is($r->{errors}[0]{C}, '42501', 'Parse of DEALLOCATE: refused with 42501');
	is(run_named($victim, 'mine', '', 0), 'victim', "Parse: the victim's statement returns its own row");
}

# ... and at the protocol level: a Bind or a Describe of sluice's name by
# a client that never prepared it finds no such statement (26000).
{
	my $c = client();
	$c->send(msg('B', "\0$target\0" . pack('nnn', 0, 0, 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
	my $r = $c->read_results(10);
	is_deeply([ $r->{errors}[0]{C}, scalar @{ $r->{rows} } ], [ '26000', 0 ],
		  "Bind of sluice's name without a Parse: 26000, no row") or diag(explain($r));
	$c->send(msg('D', "S$target\0") . msg('S'));
	$r = $c->read_results(10);
	is($r->{errors}[0]{C}, '26000', "Describe of sluice's name without a Parse: 26000");
	is(run_named($victim, 'mine', '', 0), 'victim', "... and the victim's statement returns its own row");
	$c->terminate;
}

# PostgreSQL's errors about a statement name the client's name, as they
# would directly: a second Parse of a name, a Bind with a wrong number of
# parameters.
{
	my $c = client();
	$c->send(msg('P', "twice\0SELECT \$1::int\0" . pack('n', 0)) . msg('S'));
	$c->read_results(10);
	$c->send(msg('P', "twice\0SELECT 2\0" . pack('n', 0)) . msg('S'));
	my $r = $c->read_results(10);
	is_deeply([ $r->{errors}[0]{C}, $r->{errors}[0]{M} ], [ '42P05', 'prepared statement "twice" already exists' ],
		  'a second Parse of a name: 42P05 naming the client\'s name');
	$c->send(msg('B', "\0twice\0" . pack('nn', 0, 0) . pack('n', 0)) . msg('E', "\0" . pack('N', 0)) . msg('S'));
	$r = $c->read_results(10);
	is_deeply([ $r->{errors}[0]{C}, $r->{errors}[0]{M} ],
		  [ '08P01', 'bind message supplies 0 parameters, but prepared statement "twice" requires 1' ],
		  'a Bind with a parameter missing: the message names the client\'s name');
	$c->terminate;
}

# What names nothing of sluice's runs, and sluice's record stays true.
{
	my $c = client();
	my $r = $c->query(q{PREPARE own_q AS SELECT 'own'::text; EXECUTE own_q; DEALLOCATE own_q});
	is_deeply([ $r->{rows}[0][0], scalar @{ $r->{errors} } ], [ 'own', 0 ],
		  "a client's own PREPARE, EXECUTE, DEALLOCATE in one string run");
	is($c->query('DISCARD PLANS')->{errors}[0], undef, 'DISCARD PLANS runs');
	is(run_named($victim, 'mine', '', 0), 'victim', '... and the victim goes on (statements kept)');
	is_deeply($c->query('DEALLOCATE ALL')->{tags}, ['DEALLOCATE ALL'], 'DEALLOCATE ALL runs');
	is(run_named($victim, 'mine', '', 0), 'victim', '... and the victim goes on (sluice prepares again)');
	$c->send(msg('P', "\0DISCARD ALL\0" . pack('n', 0)) . msg('B', "\0\0" . pack('nnn', 0, 0, 0))
		 . msg('E', "\0" . pack('N', 0)) . msg('S'));
	$r = $c->read_results(10);
	is_deeply($r->{tags}, ['DISCARD ALL'], 'DISCARD ALL through the extended protocol runs');
	is(run_named($victim, 'mine', '', 0), 'victim', '... and the victim goes on');
	$c->terminate;
}
$victim->terminate;

done_testing();
