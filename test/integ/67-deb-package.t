# Issue 20, item 4: the Debian package. `make deb` builds it (into a temp
# dir, with dpkg-buildpackage, as a user would) without writing into the
# source tree; its name, file list, owners, conffiles and dependencies are
# what doc/packaging.md says; its postinst makes the user sluice before
# giving it anything, and works without systemd (run with stand-ins for the
# system commands it calls, so the machine running the test is not
# changed); lintian finds no error or warning. Then the package is
# extracted (dpkg-deb -x) and its /usr/sbin/sluice runs, as an unprivileged
# user, with its /etc/sluice/sluice.ini adjusted only in ports and paths,
# in front of the harness's PostgreSQL, with one user added to its
# userlist.txt as an administrator would: psql logs in over TCP and the
# unix socket and runs a query; the pidfile and the logfile are where the
# configuration says.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use Cwd qw(abs_path);
use File::Find qw(find);
use Time::HiRes qw(time);
use SluiceTest qw(run_cmd slurp spit free_port new_tempdir is_root);

my $ROOT = abs_path("$FindBin::Bin/../..");
for my $tool (qw(dpkg-buildpackage dh lintian)) {
	plan(skip_all => "$tool is not installed (make deps installs it)")
	    unless (run_cmd([ 'sh', '-c', "command -v $tool" ]))[2] == 0;
}

my ($version) = slurp("$ROOT/src/main.c") =~ /^#define SLUICE_VERSION "([^"]+)"$/m;
my ($changelog_version) = slurp("$ROOT/debian/changelog") =~ /^sluice \(([^)]+)\)/;
is($changelog_version, $version, "debian/changelog's newest entry is src/main.c's SLUICE_VERSION ($version)");
my $arch = (run_cmd([ 'dpkg', '--print-architecture' ]))[0];
chomp $arch;

# Owned by postgres when root: the packaged sluice runs as that user below.
my $dir = new_tempdir('deb', for_postgres => 1);
my $debdir = "$dir/deb";

# --- make deb ----------------------------------------------------------------

my $stamp = "$dir/stamp";
spit($stamp, '');
my $t0 = time();
my ($out, $err, $rc) = run_cmd([ 'make', '--no-print-directory', '-C', $ROOT, 'deb', "DEB_DIR=$debdir" ],
			       timeout => 600, env => { MAKEFLAGS => undef, MFLAGS => undef, MAKELEVEL => undef,
							# make asan's BUILD=build/asan OUT=... SAN=1
							# reach us as environment variables
							BUILD => undef, OUT => undef, SAN => undef });
my $took = time() - $t0;
is($rc, 0, sprintf('make deb builds the package (%.0f s)', $took)) or diag("$out$err");
my $deb = "$debdir/sluice_${version}_$arch.deb";
if (!ok(-f $deb, "it is build/deb's sluice_${version}_$arch.deb")) {
	# the rest looks inside the package: this file ends here, the suite goes on
	done_testing();
	exit 1;
}
{
	my @written;
	find({ no_chdir => 1, wanted => sub {
		if (m{/(\.git|node_modules)$}) { $File::Find::prune = 1; return }
		push @written, $_ if -f $_ && (Time::HiRes::stat($_))[9] > (Time::HiRes::stat($stamp))[9];
	} }, $ROOT);
	is_deeply(\@written, [], 'make deb wrote nothing into the source tree');
}

# --- what the package holds ------------------------------------------------------

my ($listing) = run_cmd([ 'dpkg-deb', '-c', $deb ]);
my %entry;    # path => [mode string, owner]
for (split /\n/, $listing) {
	my ($mode, $owner, $path) = m{^(\S+)\s+(\S+)\s+\d+\s+\S+\s+\S+\s+\./(\S*)} or next;
	$path =~ s{/$}{};
	$entry{"/$path"} = [ $mode, $owner ];
}
my @want = qw(/usr/sbin/sluice /usr/bin/sluicectl /etc/sluice/sluice.ini /etc/sluice/userlist.txt
	      /etc/logrotate.d/sluice /usr/lib/tmpfiles.d/sluice.conf
	      /usr/share/man/man1/sluice.1.gz /usr/share/man/man1/sluicectl.1.gz
	      /usr/share/man/man5/sluice.ini.5.gz /usr/share/doc/sluice/copyright
	      /usr/share/doc/sluice/examples/sluice.ini);
# The systemd units, as soon as the tree has them (etc/sluice.service, .socket).
for my $unit (grep { -f "$ROOT/etc/$_" } qw(sluice.service sluice.socket)) {
	my ($where) = grep { $entry{"$_/$unit"} } qw(/lib/systemd/system /usr/lib/systemd/system);
	ok($where, "etc/$unit is in the package") or next;
	push @want, "$where/$unit";
	my $text = slurp("$ROOT/etc/$unit");
	my @exec = $text =~ /^Exec\w+=[-\@:+!]*(\/\S+)/mg;
	is_deeply([ grep { !m{^/usr/sbin/sluice$|^/bin/kill$|^/usr/bin/kill$} } @exec ], [],
		  "$unit runs the packaged /usr/sbin/sluice (@exec)") if @exec;
}
my @missing = grep { !$entry{$_} } @want;
ok(!@missing, 'the package has ' . join(', ', @want)) or diag("missing: @missing\n$listing");
like($entry{'/usr/sbin/sluice'}[0] // '', qr/^-rwxr-xr-x$/, 'sluice is an executable');
my @not_root = grep { $entry{$_}[1] ne 'root/root' } sort keys %entry;
is_deeply(\@not_root, [], 'every file in the package belongs to root');
my @writable = grep { m{^/(var|run|srv|home)(/|$)} } sort keys %entry;
is_deeply(\@writable, [], 'nothing sluice writes is shipped: /var/log/sluice and /run/sluice come from postinst, as sluice\'s');

($out) = run_cmd([ 'dpkg-deb', '--info', $deb, 'conffiles' ]);
is_deeply([ sort split /\n/, $out ], [ qw(/etc/logrotate.d/sluice /etc/sluice/sluice.ini /etc/sluice/userlist.txt) ],
	  'conffiles: sluice.ini, userlist.txt and the logrotate file');
($out) = run_cmd([ 'dpkg-deb', '--field', $deb, 'Package', 'Version', 'Architecture', 'Depends' ]);
like($out, qr/^Package: sluice\nVersion: \Q$version\E\nArchitecture: \Q$arch\E\n/, "package sluice $version for $arch");
like($out, qr/^Depends: .*\badduser\b/m, 'it depends on adduser (postinst)');
like($out, qr/^Depends: .*\blibevent-core\S*.*\blibssl3\b/m, 'and on the libraries it links, from shlibs');
like($out, qr/^Depends: .*\blibpq5\b/m, 'and on libpq (a cluster\'s coordination connection, doc/cluster.md)');
# A Type=notify service whose sluice was built without libsystemd would
# never say READY=1, and systemd would kill it at TimeoutStartSec.
if (-f "$ROOT/etc/sluice.service" && slurp("$ROOT/etc/sluice.service") =~ /^Type=notify\s*$/m) {
	like($out, qr/^Depends: .*\blibsystemd0\b/m,
	     'sluice.service is Type=notify: the packaged sluice links libsystemd (Build-Depends: libsystemd-dev)');
}

# --- lintian ---------------------------------------------------------------------

$t0 = time();
($out, $err, $rc) = run_cmd([ 'lintian', '--fail-on', 'error,warning', $deb ], timeout => 300);
my @tags = grep { /^[EW]: / } split /\n/, $out;
is($rc, 0, sprintf('lintian: no error or warning (%.0f s)', time() - $t0)) or diag("$out$err");
is_deeply(\@tags, [], 'lintian lists no E: or W: tag');

# --- the maintainer scripts, with stand-ins ------------------------------------------

my $ctl = "$dir/control";
($out, $err, $rc) = run_cmd([ 'dpkg-deb', '--control', $deb, $ctl ]);
is($rc, 0, 'dpkg-deb --control extracts the maintainer scripts') or diag($err);
my $stubs = "$dir/stubs";
mkdir $stubs or die "$stubs: $!";
my %stub_rc = (getent => '${STUB_GETENT:-2}', 'dpkg-statoverride' => '${STUB_STATOVERRIDE:-1}');
for my $cmd (qw(getent adduser chown chmod chgrp install mkdir rm dpkg-statoverride systemd-tmpfiles
		deb-systemd-helper deb-systemd-invoke systemctl)) {
	spit("$stubs/$cmd", qq{#!/bin/sh\necho "$cmd \$*" >> "\$STUB_LOG"\nexit } . ($stub_rc{$cmd} // 0) . "\n", 0755);
}
# Runs a maintainer script with only the stand-ins on PATH; returns the
# commands it ran, one a line.
sub maint
{
	my ($script, $arg, %env) = @_;
	my $log = "$dir/stub.log";
	unlink $log;
	spit($log, '');
	my ($o, $e, $r) = run_cmd([ '/bin/sh', "$ctl/$script", $arg ],
				  env => { PATH => $stubs, STUB_LOG => $log, %env });
	is($r, 0, "$script $arg exits 0" . (%env ? ' (' . join(', ', map { "$_=$env{$_}" } sort keys %env) . ')' : ''))
	    or diag("$o$e");
	return slurp($log);
}
{
	my $ran = maint('postinst', 'configure');
	my @lines = split /\n/, $ran;
	my ($adduser) = grep { $lines[$_] =~ /^adduser .*--system.* sluice$/ } 0 .. $#lines;
	ok(defined $adduser, 'postinst configure makes the system user sluice with adduser') or diag($ran);
	my ($first_use) = grep { $lines[$_] =~ /\bsluice\b/ && $lines[$_] !~ /^(getent|adduser|dpkg-statoverride|deb-systemd|systemctl)/ }
			  0 .. $#lines;
	ok(defined $adduser && defined $first_use && $adduser < $first_use, '... before it gives it anything')
	    or diag($ran);
	like($ran, qr{^chown root:sluice /etc/sluice/userlist\.txt\nchmod 0640 /etc/sluice/userlist\.txt$}m,
	     'userlist.txt: readable by the group sluice, by no one else');
	like($ran, qr{^install -d -o sluice -g adm -m 2750 /var/log/sluice$}m, '/var/log/sluice belongs to sluice');
	like($ran, qr{^systemd-tmpfiles .*--create sluice\.conf$}m, 'tmpfiles.d makes /run/sluice where systemd runs');
	like(slurp("$ctl/postinst"), qr{install -d -o sluice -g sluice -m 0755 /run/sluice}, '... and postinst where it does not');

	$ran = maint('postinst', 'configure', STUB_GETENT => 0, STUB_STATOVERRIDE => 0);
	unlike($ran, qr/^adduser/m, 'an upgrade keeps the user it finds');
	unlike($ran, qr/^ch(own|mod) .*userlist/m, '... and a dpkg-statoverride of userlist.txt');

	$ran = maint('postrm', 'purge');
	like($ran, qr{^rm -rf /var/log/sluice /run/sluice$}m, 'postrm purge removes the logs');
	$ran = maint('postrm', 'remove');
	unlike($ran, qr{^rm }m, 'postrm remove keeps them');
}

# --- the packaged sluice, running -----------------------------------------------------

my $root = "$dir/root";
($out, $err, $rc) = run_cmd([ 'dpkg-deb', '-x', $deb, $root ]);
is($rc, 0, 'dpkg-deb -x extracts the package') or diag($err);
($out, $err, $rc) = run_cmd([ "$root/usr/sbin/sluice", '-V' ]);
is($out, "sluice $version\n", "the packaged sluice -V says $version");
($out, $err, $rc) = run_cmd([ "$root/usr/bin/sluicectl", '--help' ]);
is($rc, 0, 'the packaged sluicectl runs') or diag("$out$err");

my $pg = SluiceTest::Pg->new;
$pg->create_role('app', 'app_pw');
$pg->create_db('app', 'app');

# What the package's postinst makes for sluice: a log directory and a run
# directory of its own; the rest stays root's.
my ($logdir, $rundir) = ("$dir/log", "$dir/run");
for my $d ($logdir, $rundir) {
	mkdir $d or die "$d: $!";
	if (is_root()) { chown((SluiceTest::postgres_ids())[0, 1], $d) or die "chown $d: $!" }
}

my $ini = "$root/etc/sluice/sluice.ini";
my $shipped = slurp($ini);
my $port = free_port();
my $conf = $shipped;
my %subst = (
	'listen_port'      => [ qr/^listen_port = 6432$/m, "listen_port = $port" ],
	'[databases] port' => [ qr/^\* = host=127\.0\.0\.1 port=5432$/m, '* = host=127.0.0.1 port=' . $pg->port ],
	'unix_socket_dir'  => [ qr{^unix_socket_dir = /run/sluice$}m, "unix_socket_dir = $rundir" ],
	'pidfile'          => [ qr{^pidfile = /run/sluice/sluice\.pid$}m, "pidfile = $rundir/sluice.pid" ],
	'logfile'          => [ qr{^logfile = /var/log/sluice/sluice\.log$}m, "logfile = $logdir/sluice.log" ],
	'auth_file'        => [ qr{^auth_file = /etc/sluice/userlist\.txt$}m, "auth_file = $root/etc/sluice/userlist.txt" ],
);
for my $what (sort keys %subst) {
	my ($re, $new) = @{ $subst{$what} };
	ok($conf =~ s/$re/$new/, "the packaged sluice.ini sets $what; adjusted to: $new");
}
{
	my @a = split /\n/, $shipped;
	my @b = split /\n/, $conf;
	my @changed = grep { $a[$_] ne $b[$_] } 0 .. $#a;
	is(scalar @changed, scalar keys %subst, 'nothing else in it changed');
}
# Beside the extracted tree, not in it: the harness keeps sluice's stderr
# next to its configuration file.
mkdir "$dir/conf" or die "$dir/conf: $!";
my $adjusted = "$dir/conf/sluice.ini";
spit($adjusted, $conf, 0644);
# An administrator's first edit: a user, with PostgreSQL's SCRAM verifier
# as the file's own comment suggests.
my $userlist = "$root/etc/sluice/userlist.txt";
unlike(slurp($userlist), qr/^"/m, 'the packaged userlist.txt lists no user');
spit($userlist, slurp($userlist) . '"app" "' . $pg->scram_verifier('app') . "\"\n", 0644);

my $sl = do {
	local $ENV{SLUICE_BIN} = "$root/usr/sbin/sluice";
	SluiceTest::Sluice->new(config_file => $adjusted, port => $port, logfile => "$logdir/sluice.log",
				databases => { app => '' }, users => { app => 'app_pw' }, default_user => 'app',
				as_postgres => is_root());
};
is($sl->{bin}, "$root/usr/sbin/sluice", 'the harness started the packaged sluice');
is($sl->safe_psql('SELECT current_user || \'@\' || current_database()'), 'app@app',
   'psql over TCP through the packaged sluice: a query answered by PostgreSQL');
is($sl->safe_psql('SELECT 6 * 7', host => $rundir), '42', 'and over its unix socket in the run directory');
like(slurp("$rundir/sluice.pid"), qr/^\Q${\ $sl->pid }\E\s*$/, 'the pidfile holds its pid');
like($sl->log_contents, qr/login ok/, 'the logfile has its log lines');

done_testing();
