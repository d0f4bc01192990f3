# gate_bypass_application_names does not trust a name the client chooses
# (issue 14, item 11). application_name is whatever a client sends, so it
# cannot be what earns a bypass: the key only narrows gate_bypass_users (a
# bypass user must also log in with one of the names); with
# gate_bypass_users empty it grants nothing, and the load says so.
#
# Checked here: an ordinary role logging in with application_name=migrator
# is held by a closed gate like any client, and does not close the gate
# under gate_auto; the bypass user with that name still bypasses (and
# closes the gate); the bypass user with another name does not, since the
# list narrows it; a configuration with names and no users warns at load
# (and again at reload) and bypasses nobody.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_role('migrator', 'mig_pw');
$pg->create_db('app', 'app');

my %USERS = (app => 'app_pw', admin => 'admin_pw', migrator => 'mig_pw');
sub new_sluice
{
	my (%s) = @_;
	return SluiceTest::Sluice->new(
		pg => $pg, databases => { app => $pg->connstr('app') }, users => \%USERS,
		settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
			      default_pool_size => 2, %s },
		default_user => 'app');
}

sub send_query { my ($c, $sql) = @_; $c->send(SluiceTest::Proto::msg('Q', "$sql\0")) }
sub gate_row
{
	my ($c) = @_;
	my $r = $c->query('SHOW GATES');
	for my $row (@{ $r->{rows} }) {
		my %h = map { ($r->{columns}[$_] => $row->[$_]) } 0 .. $#$row;
		return \%h if $h{database} eq 'app';
	}
	return {};
}

my $sl = new_sluice(gate_bypass_users => 'migrator', gate_bypass_application_names => 'migrator, deploy');
sub console { $sl->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer') }
sub login
{
	my ($user, $app) = @_;
	return $sl->proto(user => $user, password => $USERS{$user}, dbname => 'app',
			  params => { application_name => $app });
}
my $adm = console();

# ---- a closed gate holds an ordinary role whatever application_name it sends ----
{
	is_deeply($adm->query('PAUSE app')->{tags}, ['PAUSE'], 'PAUSE app');
	my $c = login('app', 'migrator');
	is(gate_row($adm)->{bypass}, 0, 'app with application_name=migrator: not counted as a bypass');
	send_query($c, 'SELECT 1');
	is($c->read_results(0.5)->{lost}, 'timed out', '... and its work is held by the closed gate');

	my $m = login('migrator', 'migrator');
	is(gate_row($adm)->{bypass}, 1, 'migrator with application_name=migrator: a bypass');
	is($m->query_value('SELECT 2'), 2, '... that runs while the gate is closed');
	$m->terminate;

	my $o = login('migrator', 'psql');
	is(gate_row($adm)->{bypass}, 0, 'migrator with an application_name not in the list: not a bypass');
	send_query($o, 'SELECT 3');
	is($o->read_results(0.5)->{lost}, 'timed out', '... held: the names narrow gate_bypass_users');

	is_deeply($adm->query('RESUME app')->{tags}, ['RESUME'], 'RESUME app');
	is($c->read_results(10)->{rows}[0][0], 1, 'the held ordinary client goes on');
	is($o->read_results(10)->{rows}[0][0], 3, 'the held migrator goes on');
	$_->terminate for $c, $o;
}

# ---- gate_auto: only the bypass user's login closes the gate ----
{
	$adm->query('SET gate_auto = 1');
	my $b = login('app', 'web');
	is($b->query_value('SELECT 1'), 1, 'an application client');
	my $c = login('app', 'migrator');
	is($c->query_value('SELECT 4'), 4, 'app with application_name=migrator logs in and runs');
	is(gate_row($adm)->{state}, 'open', 'gate_auto: its login did not close the gate');
	is($b->query_value('SELECT 5'), 5, '... and the application client is not held');
	$c->terminate;

	my $m = login('migrator', 'deploy');
	ok(SluiceTest::wait_for(sub { gate_row($adm)->{state} eq 'closed' }, timeout => 5),
	   'gate_auto: the bypass user with a listed application_name closes the gate');
	send_query($b, 'SELECT 6');
	is($b->read_results(0.5)->{lost}, 'timed out', 'application work is held');
	is($m->query_value('SELECT 7'), 7, 'the migrator runs');
	$m->terminate;
	is($b->read_results(10)->{rows}[0][0], 6, 'its logout reopens the gate: the held work runs');
	$adm->query('SET gate_auto = 0');
	$b->terminate;
}

# ---- names without users: no effect, and the load warns ----
{
	my $s2 = new_sluice(gate_bypass_application_names => 'migrator', gate_auto => 1);
	$s2->expect_log(qr/ WARNING \S+\/sluice\.ini: gate_bypass_application_names is set but gate_bypass_users is empty: it has no effect /);
	my $c = $s2->proto(user => 'app', password => 'app_pw', dbname => 'app',
			   params => { application_name => 'migrator' });
	is($c->query_value('SELECT 8'), 8, 'app with application_name=migrator runs');
	my $a2 = $s2->proto(user => 'admin', password => 'admin_pw', dbname => 'pgbouncer');
	my $g = gate_row($a2);
	is($g->{state}, 'open', 'no users: gate_auto did not close the gate');
	is($g->{bypass}, 0, 'no users: not a bypass');
	my $warn = qr/WARNING.*gate_bypass_application_names is set but gate_bypass_users is empty: it has no effect/;
	my @w = grep { /$warn/ } split /\n/, $s2->log_contents;
	is(scalar @w, 1, 'the load warns that the key has no effect') or diag($s2->log_contents);
	like($w[0] // '', qr/sluice\.ini/, '... naming the file');
	$c->terminate;
	$s2->reload;
	ok(SluiceTest::wait_for(sub { (grep { /$warn/ } split /\n/, $s2->log_contents) == 2 }, timeout => 5),
	   '... and again at reload');
	$a2->terminate;
}

$adm->terminate;

done_testing();
