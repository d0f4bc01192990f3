# Zero-downtime restart: with so_reuseport = 1 a second sluice starts on the
# same port, the first is told SHUTDOWN WAIT_FOR_CLIENTS on its console and
# exits when its last client leaves. Clients connecting in a loop across the
# handover see no failed connection or query.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
$pg->safe_psql('app', 'CREATE TABLE hits (client int, n int); GRANT ALL ON hits TO app');

my $port = SluiceTest::free_port();
my %common = (
	pg => $pg,
	databases => { app => $pg->connstr('app', user => 'app', password => 'app_pw') },
	users => { app => 'app_pw', admin => 'admin_pw' },
	settings => { auth_type => 'plain', admin_users => 'admin', pool_mode => 'transaction',
		      so_reuseport => 1, listen_port => $port },
	default_user => 'app',
);
my $old = SluiceTest::Sluice->new(%common);

# a client that stays on the old process through the handover
my $stay = $old->proto(user => 'app', password => 'app_pw', dbname => 'app');
is($stay->query_value('SELECT 1'), 1, 'a long-lived client on the old sluice');

my $prog = SluiceTest::c_test_program('reconnect_loop');
ok($prog, 'reconnect_loop program found') or BAIL_OUT('no reconnect_loop');
my $tmp = SluiceTest::new_tempdir('handover');
my ($ready, $stop, $out) = ("$tmp/ready", "$tmp/stop", "$tmp/loop.out");
my $loop = SluiceTest::spawn([ $prog, $old->connstr(user => 'app', password => 'app_pw'), 4, $ready, $stop, 60 ],
			     stdout => $out, stderr => "$tmp/loop.err");
ok(SluiceTest::wait_for(sub { -e $ready }, timeout => 20), 'clients loop through the old sluice');
sub logins { my ($sl) = @_; return scalar(() = $sl->log_contents =~ / login ok /g) }
my $base = logins($old);
ok(SluiceTest::wait_for(sub { logins($old) >= $base + 8 }, timeout => 20),
   '... logging in again and again');

my $new = SluiceTest::Sluice->new(%common);
ok($new->alive, 'a second sluice starts on the same port');
$base = logins($new);    # its own readiness probe
ok(SluiceTest::wait_for(sub { logins($new) >= $base + 3 }, timeout => 20),
   'the kernel hands some of the looping clients to the new sluice');

my ($o, $e, $rc) = $old->psql('SHUTDOWN WAIT_FOR_CLIENTS', host => 'unix', user => 'admin',
			      password => 'admin_pw', db => 'pgbouncer');
is($rc, 0, 'the old sluice accepts SHUTDOWN WAIT_FOR_CLIENTS on its own unix socket') or diag $e;
select(undef, undef, undef, 0.5);   # deliberate: time in which the old one must not exit
ok($old->alive, 'the old sluice waits for its last client');
is($stay->query_value('SELECT 2'), 2, 'its long-lived client keeps working');
$stay->terminate;
ok(SluiceTest::wait_for(sub { !$old->alive }, timeout => 10), 'the old sluice exits once its last client left');
is($old->{exit_status}, 0, '... with status 0');
delete $old->{crashed};
# the loop runs on against the new one alone
$base = logins($new);
ok(SluiceTest::wait_for(sub { logins($new) >= $base + 8 }, timeout => 20),
   'the looping clients go on through the new sluice alone');

open(my $fh, '>', $stop) or die;
close $fh;
my $st = SluiceTest::wait_pid($loop, 30);
is(SluiceTest::exit_code($st), 0, 'the client loop exited 0');
my $tap = SluiceTest::slurp($out);
my @lines = grep { /^(not )?ok / } split /\n/, $tap;
ok(@lines >= 4, 'the client loop reported its checks');
for (@lines) {
	my ($not, $desc) = /^(not )?ok\s+\d+\s*-?\s*(.*)$/;
	ok(!$not, "client loop: $desc");
}
diag($tap) if grep { /^not ok/ } @lines;
note($_) for grep { /^#/ } split /\n/, $tap;

my $served_new = $pg->safe_psql('app', 'SELECT count(*) FROM hits');
ok($served_new > 0, "transactions were committed ($served_new)");
my $logins_new = () = $new->log_contents =~ /login ok/g;
ok($logins_new > 10, "the new sluice took over the looping clients ($logins_new logins)");
is($new->psql('SELECT 3', user => 'app', password => 'app_pw'), 3, 'the new sluice serves after the handover');

done_testing();
