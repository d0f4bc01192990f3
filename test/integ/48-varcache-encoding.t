# Parameter values sluice re-sends to a server are not SQL a client can
# write (issue 14, item 13). A transaction-pooled client's tracked
# parameters (application_name, client_encoding, track_extra_parameters)
# reach whichever server it lands on in a SET that sluice writes. In
# client encodings such as SJIS, BIG5 and GBK the second byte of a
# character can be 0x5C, a backslash: a value written as an E'' literal
# with its backslashes doubled then ends early on the server, whose
# lexer reads the character first. With backslash_quote = on (any role
# may SET it) the rest of the value ran as SQL; with the default the SET
# failed (22P06), and an ordinary SJIS value holding such a character
# could never be re-sent.
#
# Checked here, in SJIS: values carrying a CREATE TABLE after a quote do
# not create it, whatever backslash_quote says; the values round-trip
# byte for byte, including when the server last spoke UTF8 (so the value
# must be read in the client's encoding, not the server's previous one).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;
use SluiceTest::Proto qw(error_text);

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('postgres', 'CREATE DATABASE appbq OWNER app');
# backslash_quote is USERSET: any client could SET it on a pooled server
$pg->safe_psql('postgres', 'ALTER DATABASE appbq SET backslash_quote = on');

my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app'), appbq => $pg->connstr('appbq') },
	users => { app => 'app_pw' },
	settings => { pool_mode => 'transaction', default_pool_size => 1, track_extra_parameters => 'myapp.tag' },
	default_user => 'app');

# "ソ" in SJIS is 0x83 0x5C: its second byte is a backslash
my $SO = "\x83\x5c";
sub client
{
	my ($db, %params) = @_;
	my $c = SluiceTest::Proto->connect(port => $sl->port, timeout => 10);
	my $r = $c->login(user => 'app', password => 'app_pw', database => $db, params => \%params, timeout => 10);
	return ($c, $r);
}
sub table_exists
{
	my ($db, $t) = @_;
	return $pg->safe_psql($db, "SELECT count(*) FROM pg_class WHERE relname = '$t'");
}
# Leave the database's one server connection with this client_encoding.
sub server_speaks
{
	my ($db, $enc) = @_;
	my ($c, $r) = client($db, client_encoding => $enc);
	is($c->query_value('SHOW client_encoding'), $enc, "$db: the server connection now speaks $enc");
	$c->terminate;
}

for my $db (qw(app appbq)) {
	my $bq = $pg->safe_psql($db, 'SHOW backslash_quote');
	for my $prev (qw(SJIS UTF8)) {
		my $tag = lc "${db}_$prev";
		# a value that ends the literal early on the server, then creates a table
		my $evil = "$SO'; CREATE TABLE pwned_$tag (); --";
		server_speaks($db, $prev);
		my ($c, $r) = client($db, client_encoding => 'SJIS', 'myapp.tag' => $evil);
		ok($r->{ok}, "$db (backslash_quote = $bq), server last spoke $prev: an SJIS client logs in")
		    or diag(error_text($r->{error}));
		my $q = $c->query(q{SELECT current_setting('myapp.tag'), current_setting('client_encoding')});
		ok(!@{ $q->{errors} }, "$db/$prev: its first transaction runs") or diag(error_text($q->{errors}[0]));
		is($q->{rows}[0][0], $evil, "$db/$prev: the value reached the server byte for byte");
		is($q->{rows}[0][1], 'SJIS', "$db/$prev: in the client's encoding");
		is(table_exists($db, "pwned_$tag"), 0, "$db/$prev: nothing after the value ran");
		$c->terminate;

		server_speaks($db, $prev);
		my $name = "$SO$SO\\$SO";
		($c, $r) = client($db, client_encoding => 'SJIS', 'myapp.tag' => $name,
				  application_name => "$SO'; CREATE TABLE pwned_an_$tag (); --");
		$q = $c->query(q{SELECT current_setting('myapp.tag')});
		ok(!@{ $q->{errors} }, "$db/$prev: a plain SJIS value with 0x5C second bytes is re-sent")
		    or diag(error_text($q->{errors}[0]));
		is($q->{rows}[0][0], $name, "$db/$prev: ... byte for byte");
		is(table_exists($db, "pwned_an_$tag"), 0, "$db/$prev: application_name: nothing after the value ran");
		$c->terminate;
	}
}

# values holding dollar-quote tags and quotes, ending in '$'
for my $v ('x$v$y $v1 $$ \\\' \'\' end$', '$v', '$') {
	my ($c, $r) = client('app', 'myapp.tag' => $v);
	is($c->query_value(q{SELECT current_setting('myapp.tag')}), $v, "the value [$v] round-trips");
	$c->terminate;
}

done_testing();
