# Issue 20, item 2: logs that logrotate can rotate. sluice opens its
# logfile anew at every reload, so after logrotate renames the file and
# its postrotate sends SIGHUP (etc/sluice.logrotate, run here by Debian's
# logrotate with the test's paths), the next lines land in a new file of
# the configured name, and no line is lost between the two. The same with
# the console's RELOAD after a rename by hand.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use SluiceTest qw(run_cmd slurp spit wait_for);

my $logrotate = -x '/usr/sbin/logrotate' ? '/usr/sbin/logrotate' : undef;
plan(skip_all => 'logrotate is not installed (make deps installs it)') unless $logrotate;

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');
my $sl = SluiceTest::Sluice->new(
	pg => $pg, databases => { app => $pg->connstr('app') }, users => { app => 'app_pw' },
	default_user => 'app', settings => { admin_users => 'app', log_connections => 1 },
	start => 0,
);
my $dir = $sl->dir;
my $log = "$dir/sluice.log";
my $pidfile = "$dir/sluice.pid";
$sl->{settings}{pidfile} = $pidfile;
$sl->write_config;
$sl->start;

my $logins = 0;
sub login_some
{
	my ($n) = @_;
	for (1 .. $n) {
		my $c = $sl->proto;
		$c->query_value('SELECT 1');
		$c->terminate;
		$logins++;
	}
}
sub count_logins { my $n = 0; $n += () = slurp($_) =~ /login ok/g for grep { -f } @_; return $n }

$logins = count_logins($log);   # the harness's own, at start
login_some(5);
ok(wait_for(sub { count_logins($log) == $logins }, timeout => 10), "five more logins logged in sluice.log ($logins)");

# the shipped configuration, with the test's paths
my $conf = slurp("$FindBin::Bin/../../etc/sluice.logrotate");
ok($conf =~ s{/var/log/sluice/sluice\.log}{$log}g, 'etc/sluice.logrotate names /var/log/sluice/sluice.log');
ok($conf =~ s{/run/sluice/sluice\.pid}{$pidfile}g, '... and signals the pid in /run/sluice/sluice.pid');
spit("$dir/rotate.conf", $conf, 0644);
my ($out, $err, $rc) = run_cmd([ $logrotate, '-f', '-s', "$dir/rotate.state", "$dir/rotate.conf" ], timeout => 30);
is($rc, 0, 'logrotate -f runs the shipped configuration') or diag("$out$err");
ok(-f "$log.1", 'the log was renamed to sluice.log.1');
ok(wait_for(sub { -f $log && slurp($log) =~ /configuration reloaded/ }, timeout => 10),
   'postrotate sent SIGHUP: sluice reloaded and opened a new sluice.log');
like(slurp("$log.1"), qr/got SIGHUP: reloading/, 'the old file ends with the SIGHUP line');

login_some(5);
ok(wait_for(sub { count_logins($log) == 5 }, timeout => 10), "the next five logins land in the new file") or diag(slurp($log));
is(count_logins($log, "$log.1"), $logins, "no line lost: $logins logins in the two files");
unlike(slurp("$log.1"), qr/C-\d+ \S+ login ok.*\n(?:.*\n)*.*configuration reloaded/,
       'no login after the reload went to the old file');

# By hand, and RELOAD on the console instead of SIGHUP.
rename $log, "$log.manual" or die "rename: $!";
login_some(2);   # written to the renamed file, which sluice still has open
my $console = $sl->proto(dbname => 'pgbouncer');
$logins++;
is($console->query('RELOAD')->{tags}[0], 'RELOAD', 'RELOAD on the console');
$console->terminate;
ok(wait_for(sub { -f $log }, timeout => 10), 'RELOAD opened a new sluice.log');
login_some(3);
ok(wait_for(sub { count_logins($log) == 3 }, timeout => 10), 'the next logins land in the new file');
is(count_logins($log, "$log.1", "$log.manual"), $logins, "no line lost: $logins logins in all three files");

# The limit on log lines per address (client_log.c) is for clients that
# never log in: a burst of logins from one address has every login line.
# (Found by the counts above: a login's line was written before its
# client counted as logged in, and the 11th in a second was dropped.)
{
	my $before = count_logins($log);
	my @c = map { $sl->proto } 1 .. 15;
	$_->terminate for @c;
	$logins += 15;
	ok(wait_for(sub { count_logins($log) == $before + 15 }, timeout => 10),
	   'log_connections: 15 logins from one address in a burst, 15 login lines')
	    or diag('got ' . (count_logins($log) - $before));
	unlike(slurp($log), qr/more like this from \S+ suppressed/, '... and nothing suppressed');
}

done_testing();
