# The harness stops what it started when a test is interrupted (issue 16,
# item 7): a test script that has started PostgreSQL and sluice gets
# SIGINT (Ctrl-C on prove) or SIGTERM (a CI job's timeout); both
# processes are gone soon after, and so is the script.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Path ();
use POSIX ();
use Test::More;
use SluiceTest qw(wait_for new_tempdir spit slurp);

my $dir = new_tempdir('signals');
my $script = "$dir/started.pl";
spit($script, <<"PERL");
use strict;
use warnings;
use lib '$FindBin::Bin/../lib';
use SluiceTest qw(app_pool slurp);
my (\$pg, \$sl) = app_pool();
my (\$pgpid) = slurp("\$pg->{data}/postmaster.pid") =~ /^(\\d+)/;
open(my \$fh, '>', "$dir/pids.tmp") or die;
print \$fh "\$pgpid \$sl->{pid}\\n";
close \$fh;
rename("$dir/pids.tmp", "$dir/pids") or die;
sleep 60;   # until the signal this test sends
PERL

for my $sig (qw(INT TERM)) {
	unlink "$dir/pids";
	my $kid = fork() // die "fork: $!";
	if ($kid == 0) {
		open(STDOUT, '>', "$dir/out-$sig") or POSIX::_exit(1);
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(1);
		exec($^X, $script) or POSIX::_exit(1);
	}
	ok(wait_for(sub { -e "$dir/pids" }, timeout => 60), "SIG$sig: the script started PostgreSQL and sluice");
	my ($pgpid, $slpid) = split ' ', slurp("$dir/pids");
	ok(kill(0, $pgpid) && kill(0, $slpid), "SIG$sig: both run (postmaster $pgpid, sluice $slpid)");
	kill $sig, $kid;
	my $gone = wait_for(sub { waitpid($kid, POSIX::WNOHANG()) == $kid }, timeout => 30);
	ok($gone, "SIG$sig: the script ends");
	ok(wait_for(sub { !kill(0, $pgpid) && !kill(0, $slpid) }, timeout => 30),
	   "SIG$sig: PostgreSQL and sluice are stopped") or diag(slurp("$dir/out-$sig"));
	like(slurp("$dir/out-$sig"), qr/got SIG$sig: stopping what this test started/, "SIG$sig: the script says why");
	if (!$gone) { kill 'KILL', $kid; waitpid($kid, 0) }
	# what an interrupted run keeps for a look, and anything left running
	kill 'TERM', grep { kill 0, $_ } $pgpid, $slpid;
	File::Path::remove_tree($_) for slurp("$dir/out-$sig") =~ /keeping temp dir (\S+)/g;
}

done_testing();
